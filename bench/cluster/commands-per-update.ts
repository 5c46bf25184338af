/**
 * Redis engine cost: Redis commands and script calls per update, and end-to-end update rate,
 * with a source on node A and a receiver on node B sharing a private redis-server.
 *
 *   node --import tsx bench/cluster/commands-per-update.ts [updates=5000] [kind=diff|log]
 *
 * (`npm run bench:cluster` measures the same under the fan-out load, with round trips apart.)
 */
import { encodeMessage } from '../../src/protocol/message.js';
import { TestPeer } from '../../test/support/relay-harness.js';
import { Cluster, startRedis } from '../../test/cluster/cluster-harness.js';
import { commandDelta, commandStats } from './redis-stats.js';

const updates = Number(process.argv[2] ?? 5000);
const kind = process.argv[3] ?? 'diff';

const redis = await startRedis();
const cluster = new Cluster(redis.url, 5000);
try {
  const [a, b] = await Promise.all([cluster.start(['--max-frames-per-second', '1000000']), cluster.start()]);
  const src = await TestPeer.connect(`${a.url}/source/bench${kind === 'log' ? '?producer=p' : ''}`);
  const r = await TestPeer.connect(`${b.url}/stream/bench`);
  await r.next('welcome');
  src.send({ kind: 'signal-sync', state: { n: 0 } });
  await r.until(() => r.state.n === 0, 10_000);
  const before = await commandStats(redis.url);
  const t0 = performance.now();
  for (let i = 1; i <= updates; i++) {
    if (kind === 'log') src.sendRaw(encodeMessage({ kind: 'log-record', offset: i, time: 1, stream: 'stdout', data: new TextEncoder().encode(`line ${i}`) }));
    else src.send({ kind: 'signal-diff', diff: { n: i, [`f${i % 100}`]: i } });
    if (i % 500 === 0) await new Promise((res) => setImmediate(res));
  }
  if (kind === 'log') await r.until(() => r.messages('log-record').length === updates, 120_000);
  else await r.until(() => r.state.n === updates, 120_000);
  const ms = performance.now() - t0;
  const after = await commandStats(redis.url);
  const rows: string[] = [];
  let total = 0;
  for (const [cmd, d] of commandDelta(before, after)) {
    total += d;
    rows.push(`  ${cmd.padEnd(10)} ${(d / updates).toFixed(3)} per update (${d})`);
  }
  console.log(`${updates} ${kind} updates, source on A, receiver on B: ${(updates / (ms / 1000)).toFixed(0)} updates/s end to end`);
  console.log(`Redis commands per update: ${(total / updates).toFixed(3)} (INFO commandstats: the commands a script runs count too, besides the evalsha)`);
  console.log(rows.join('\n'));
  src.close();
  r.close();
} finally {
  await cluster.stop();
  await redis.stop();
}
