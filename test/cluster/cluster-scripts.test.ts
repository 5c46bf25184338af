// A Redis whose script cache is empty (a fresh server, a restart, SCRIPT FLUSH) must not cost a
// source its connection: a burst of pipelined writes used to race the NOSCRIPT retries (a later
// EVALSHA ran before an earlier write's EVAL retry), the write script saw an offset gap, and the
// source was closed with 1011.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster, startRedis } from './cluster-harness.js';

describe('redis engine: cold script cache', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('a burst of writes on a fresh Redis keeps the source connected and every receiver converges', { timeout: 60_000 }, async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const cluster = new Cluster(redis.url, 5000);
    cleanups.push(() => cluster.stop());
    const a = await cluster.start();
    const b = await cluster.start();
    const src = await TestPeer.connect(`${a.url}/source/cold`);
    const far = await TestPeer.connect(`${b.url}/stream/cold`);
    for (let i = 1; i <= 300; i++) {
      src.send({ kind: 'signal-diff', diff: { n: i, [`f${i % 13}`]: i } });
      // Spread over many event-loop turns, so the writes are pipelined one by one.
      await new Promise((r) => setTimeout(r, 1));
    }
    await far.until(() => far.state.n === 300 || src.closeCode !== undefined, 20_000, 'n = 300 on the other node');
    assert.equal(src.closeCode, undefined, `the source stayed connected (closed ${src.closeCode} ${JSON.stringify(src.messages('error'))})`);
    src.close();
    far.close();
  });
});
