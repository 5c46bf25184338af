// Cost of the console's once-a-second tick: N channels with state, one feed client connected.
// Usage: npx tsx bench/console-feed.ts [channels=1000]
import WebSocket from 'ws';
import { startRelay } from '../src/relay/server.js';

const n = Number(process.argv[2] ?? 1000);
const relay = await startRelay({ port: 0, host: '127.0.0.1', logLevel: 'silent', maxChannels: n + 10 });
for (let i = 0; i < n; i++) {
  const a = relay.table.admit(`tenant-${i % 50}.room-${i}`, 'receiver');
  if (!a.ok) throw new Error(a.reason);
  a.channel.engineChannel.publish({ kind: 'sync', state: { round: i, phase: 'playing', players: { ada: { score: i, x: 0.5 }, bob: { score: 2 * i, x: 0.25 } } } });
}
const ws = new WebSocket(`${relay.url}/api/feed`);
let bytes = 0;
ws.on('message', (d: Buffer) => (bytes = d.length));
await new Promise((r) => ws.once('open', r));
await new Promise((r) => setTimeout(r, 50));
const times: number[] = [];
for (let i = 0; i < 30; i++) {
  // Each tick: every state changes, so state sizes are re-measured too (the worst case).
  for (const c of relay.table.values()) c.engineChannel.publish({ kind: 'diff', diff: { round: i }, raw: new Uint8Array(0) });
  const t0 = performance.now();
  relay.console.tick();
  times.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 20));
}
times.sort((a, b) => a - b);
const cpu = process.cpuUsage();
console.log(JSON.stringify({ channels: n, tickJsonBytes: bytes, tickMsMedian: times[15]!.toFixed(2), tickMsP90: times[27]!.toFixed(2), processCpuMs: Math.round((cpu.user + cpu.system) / 1000) }));
ws.close();
await relay.close(100);
