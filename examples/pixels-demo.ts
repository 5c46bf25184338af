// Pixels, audio and input in the browser: a relay on :9100 (or SLUICE_PORT) serving the source
// page (an animated drawing board streamed with publishCanvas) and the receiver page
// /view/pixels. Draw and steer on the receiver; the source reacts and streams it back.
// Run: npm run demo:pixels   (uses a Sluice relay already on the port, like `npm run demo`)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startRelay } from '../src/relay/server.js';
import type { Relay } from '../src/relay/server.js';
import { relayHttpRoutes } from '../src/relay/static-routes.js';

const port = Number(process.env.SLUICE_PORT ?? 9100);
const bundle = fileURLToPath(new URL('../dist/browser/sluice-worker.js', import.meta.url));
if (!existsSync(bundle)) {
  console.error('demo:pixels: the browser bundle is missing; run `npm run build` first.');
  process.exit(1);
}

let relay: Relay | undefined;
let relayPort = port;
try {
  relay = await startRelay({ port, logLevel: 'warn', httpRoutes: relayHttpRoutes() });
  relayPort = relay.port;
} catch (e) {
  if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
  const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })
    .then(async (r) => r.ok && ((await r.json()) as { status?: string }).status === 'ok')
    .catch(() => false);
  if (!ok) {
    console.error(`demo:pixels: port ${port} is in use by something that is not a Sluice relay.\nRun it on another port: SLUICE_PORT=9200 npm run demo:pixels`);
    process.exit(1);
  }
  console.log(`demo:pixels: a Sluice relay is already running on port ${port}; using it`);
}
console.log(`
Source page:   http://localhost:${relayPort}/pixels-source.html
Receiver page: http://localhost:${relayPort}/view/pixels     (open it in another window; Ctrl-C stops)
`);
const stop = () => {
  if (!relay) process.exit(0);
  void relay.close(1000).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
