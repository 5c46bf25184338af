/** HTTP routes for files the relay serves: the browser client module (`/sluice.js`). */
import { readFileSync } from 'node:fs';
import type { HttpRoute as Route } from './transport.js';

function file(path: string, url: URL, type: string): Route {
  let body: Buffer | undefined;
  return (req, res) => {
    if ((req.url ?? '').split('?')[0] !== path) return false;
    try {
      body ??= readFileSync(url);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`${path} is not built; run npm run build\n`);
      return true;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'access-control-allow-origin': '*' });
    res.end(body);
    return true;
  };
}

// Two levels below the package root both as src/relay/*.ts and as dist/relay/*.js.
const ROOT = new URL('../../', import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

/** Serves the pages in web/ (dashboard, demos) by plain file name; nothing outside that folder. */
function webPages(): Route {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const name = path === '/' ? 'index.html' : path.slice(1);
    const m = /^[a-z0-9][a-z0-9-]*\.(html|css|js|svg|png)$/.exec(name);
    if (!m) return false;
    let body: Buffer;
    try {
      body = readFileSync(new URL(`web/${name}`, ROOT));
    } catch {
      return false;
    }
    res.writeHead(200, { 'content-type': TYPES[m[1]!]!, 'cache-control': 'no-cache' });
    res.end(body);
    return true;
  };
}

/** `/process/{id}`: the live terminal view of a streamed process (web/process.html). */
function processView(): Route {
  return (req, res) => {
    if (!/^\/process\/[^/?]+$/.test((req.url ?? '').split('?')[0]!)) return false;
    res.writeHead(200, { 'content-type': TYPES.html!, 'cache-control': 'no-cache' });
    res.end(readFileSync(new URL('web/process.html', ROOT)));
    return true;
  };
}

/**
 * The view page's Content-Security-Policy: its own scripts only, WebSocket back to this relay,
 * workers and decoded images from blob: URLs, no requests anywhere else. `host` (the request's
 * Host header, when it is a plain host[:port]) is named for ws:/wss: explicitly, because some
 * browsers do not let 'self' cover WebSocket URLs.
 */
export function viewCsp(host?: string): string {
  const ws = host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "worker-src 'self' blob:",
    `connect-src 'self'${ws}`,
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
  ].join('; ');
}

/** `/view/{channel}` (`/view` alone: channel `default`): the browser receiver of a channel's pixels, audio and state (web/view.html). */
function pixelView(): Route {
  return (req, res) => {
    if (!/^\/view(\/[^/?]*)?$/.test((req.url ?? '').split('?')[0]!)) return false;
    let body: Buffer;
    try {
      body = readFileSync(new URL('web/view.html', ROOT));
    } catch {
      return false;
    }
    res.writeHead(200, { 'content-type': TYPES.html!, 'cache-control': 'no-cache', 'content-security-policy': viewCsp(req.headers.host), 'x-content-type-options': 'nosniff' });
    res.end(body);
    return true;
  };
}

/** Routes for the relay CLI: the browser client module and encoder worker built by `npm run build`, web/ pages, process and pixel views. */
export function relayHttpRoutes(): Route[] {
  return [
    processView(),
    pixelView(),
    file('/sluice.js', new URL('dist/browser/sluice.js', ROOT), 'text/javascript; charset=utf-8'),
    file('/sluice.js.map', new URL('dist/browser/sluice.js.map', ROOT), 'application/json'),
    file('/sluice-worker.js', new URL('dist/browser/sluice-worker.js', ROOT), 'text/javascript; charset=utf-8'),
    file('/sluice-worker.js.map', new URL('dist/browser/sluice-worker.js.map', ROOT), 'application/json'),
    webPages(),
  ];
}
