// Everything at once: a relay on :9100 (or SLUICE_PORT), the four sources, the aggregator, and
// the dashboard at http://localhost:9100/dashboard.html. Run: npm run demo
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRelay } from '../src/relay/server.js';
import { relayHttpRoutes } from '../src/relay/static-routes.js';

const port = Number(process.env.SLUICE_PORT ?? 9100);
// SLUICE_PORT=0 picks a free port (tests); the dashboard URL line below names it.
const relay = await startRelay({ port, logLevel: 'warn', httpRoutes: relayHttpRoutes() });
const url = `ws://localhost:${relay.port}`;
const children = ['counter', 'clock', 'stats', 'mood', 'compose-metrics'].map((name) =>
  spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`./${name}.ts`, import.meta.url))], { stdio: 'inherit', env: { ...process.env, SLUICE_URL: url } }),
);
console.log(`\nDashboard: http://localhost:${relay.port}/dashboard.html   (Ctrl-C stops everything)\n`);
const stop = () => {
  for (const c of children) c.kill();
  void relay.close(1000).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
