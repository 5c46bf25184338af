/** HTTP routes for files the relay serves: the browser client module (`/sluice.js`). */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Route = (req: IncomingMessage, res: ServerResponse) => boolean;

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

/** Routes for the relay CLI: the browser client module built by `npm run build`. */
export function relayHttpRoutes(): Route[] {
  return [
    file('/sluice.js', new URL('dist/browser/sluice.js', ROOT), 'text/javascript; charset=utf-8'),
    file('/sluice.js.map', new URL('dist/browser/sluice.js.map', ROOT), 'application/json'),
  ];
}
