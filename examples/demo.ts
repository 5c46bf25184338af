// Everything at once: a relay on :9100 (or SLUICE_PORT), the four sources, the aggregator, and
// the dashboard at http://localhost:9100/dashboard.html. Run: npm run demo
// When a Sluice relay already runs on that port (e.g. the README's `sluice relay`), the demo uses
// it; when something else holds the port, it says what and exits 1.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRelay } from '../src/relay/server.js';
import type { Relay } from '../src/relay/server.js';
import { relayHttpRoutes } from '../src/relay/static-routes.js';

const port = Number(process.env.SLUICE_PORT ?? 9100);

/** What answers `GET /healthz` on the port: a Sluice relay says {"status":"ok"}. */
async function whatIsOn(port: number): Promise<{ sluice: true } | { sluice: false; what: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    const body = await res.text();
    let ok = false;
    try {
      ok = res.ok && (JSON.parse(body) as { status?: unknown }).status === 'ok';
    } catch {
      /* not JSON: not a relay */
    }
    return ok ? { sluice: true } : { sluice: false, what: `GET /healthz answered HTTP ${res.status} ${JSON.stringify(body.slice(0, 80))}` };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { sluice: false, what: `it does not answer HTTP (${cause ?? (e as Error).message})` };
  }
}

// SLUICE_PORT=0 picks a free port (tests); the dashboard URL line below names it.
let relay: Relay | undefined;
let relayPort = port;
try {
  relay = await startRelay({ port, logLevel: 'warn', httpRoutes: relayHttpRoutes() });
  relayPort = relay.port;
} catch (e) {
  if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
  const on = await whatIsOn(port);
  if (!on.sluice) {
    console.error(`demo: port ${port} is in use by something that is not a Sluice relay: ${on.what}.\nStop it, or run the demo on another port: SLUICE_PORT=9200 npm run demo`);
    process.exit(1);
  }
  console.log(`demo: a Sluice relay is already running on port ${port}; using it`);
}
const url = `ws://localhost:${relayPort}`;
const children = ['counter', 'clock', 'stats', 'mood', 'compose-metrics'].map((name) =>
  spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`./${name}.ts`, import.meta.url))], { stdio: 'inherit', env: { ...process.env, SLUICE_URL: url } }),
);
console.log(`\nDashboard: http://localhost:${relayPort}/dashboard.html   (Ctrl-C stops everything)\n`);
const stop = () => {
  for (const c of children) c.kill();
  if (!relay) process.exit(0);
  void relay.close(1000).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
