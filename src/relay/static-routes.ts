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

/** Routes for the relay CLI. Paths resolve against dist/ (this file's compiled location). */
export function relayHttpRoutes(): Route[] {
  return [
    file('/sluice.js', new URL('../browser/sluice.js', import.meta.url), 'text/javascript; charset=utf-8'),
    file('/sluice.js.map', new URL('../browser/sluice.js.map', import.meta.url), 'application/json'),
  ];
}
