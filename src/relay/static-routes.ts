/** HTTP routes for files the relay serves: the browser client module (`/sluice.js`). */
import { createHash } from 'node:crypto';
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

/** `'sha256-…'` sources for the inline scripts of an HTML page (microseconds for these small pages). */
function scriptHashes(html: Buffer): string {
  let hashes = '';
  // The hash covers the element's text exactly as it is between the tags.
  for (const m of html.toString('utf8').matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) hashes += ` 'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`;
  return hashes;
}

/**
 * The Content-Security-Policy of a page in web/ (index, dashboard, demos, process view): scripts
 * from this relay and the page's own inline module (by hash, so no injected script runs), blob:
 * workers and worklets (the SDK's encoder and audio worklet fall back to them), WebSockets back to
 * this relay, inline styles (the pages are single files), images from this relay, data: and blob:.
 * WebRTC and camera/microphone access are not governed by CSP.
 */
export function pageCsp(html: Buffer, host?: string): string {
  const ws = host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    `script-src 'self' blob:${scriptHashes(html)}`,
    "worker-src 'self' blob:",
    `connect-src 'self'${ws}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ');
}

/** Headers of an HTML page in web/. */
function pageHeaders(body: Buffer, host: string | undefined): Record<string, string> {
  return { 'content-type': TYPES.html!, 'cache-control': 'no-cache', 'content-security-policy': pageCsp(body, host), 'x-content-type-options': 'nosniff' };
}

/** A file of web/ (read on each request, so an edited page shows without a restart). */
function readPage(name: string): Buffer | undefined {
  try {
    return readFileSync(new URL(`web/${name}`, ROOT));
  } catch {
    return undefined;
  }
}

/**
 * Serves the pages in web/ (dashboard, demos) by plain file name; nothing outside that folder.
 * view.html is only served as /view/{channel} (by its own path it would pick the channel ".html").
 */
function webPages(): Route {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const name = path === '/' ? 'index.html' : path.slice(1);
    const m = /^[a-z0-9][a-z0-9-]*\.(html|css|js|svg|png)$/.exec(name);
    if (!m || name === 'view.html') return false;
    const body = readPage(name);
    if (body === undefined) return false;
    res.writeHead(200, m[1] === 'html' ? pageHeaders(body, req.headers.host) : { 'content-type': TYPES[m[1]!]!, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(body);
    return true;
  };
}

/** `/process/{id}`: the live terminal view of a streamed process (web/process.html). */
function processView(): Route {
  return (req, res) => {
    if (!/^\/process\/[^/?]+$/.test((req.url ?? '').split('?')[0]!)) return false;
    const body = readPage('process.html');
    if (body === undefined) return false;
    res.writeHead(200, pageHeaders(body, req.headers.host));
    res.end(body);
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
