/**
 * Replica corner cases of the Redis engine, each reproduced deterministically (found by the
 * seeded history checker): what a node's replica believes must never outlive what Redis holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster, eventually } from './cluster-harness.js';
import type { Node } from './cluster-harness.js';

describe('cluster: replicas never trust what Redis refused', () => {
  const cluster = new Cluster(undefined, 1000);
  const redis = createClient({ url: cluster.redisUrl });
  redis.on('error', () => {});
  let a: Node;
  let b: Node;
  before(async () => {
    await redis.connect();
    [a, b] = await Promise.all([cluster.start(), cluster.start()]);
  });
  after(async () => {
    redis.destroy();
    await cluster.stop();
  });

  it('a writer whose first state was refused still marks the state it stores later (late joiners elsewhere get it all)', async () => {
    // Seed 923320162 of the checker: a source's first sync was applied to its node's replica,
    // then refused by Redis (the lease had expired meanwhile). The node kept believing the
    // channel had a state, so the next source's sync was not "the first state" and Redis never
    // learned the channel had one: a node reading a snapshot ignored the state hash, and its
    // late joiners got no state (or only the fields changed since).
    const ch = 'refused-first';
    const lease = `${cluster.prefix}:{${ch}}:lease`;
    const s1 = await TestPeer.connect(`${a.url}/source/${ch}`);
    await s1.next('welcome');
    await eventually(async () => (await redis.exists(lease)) === 1, 10_000, 'A to take the lease');
    // Another writer took the lease behind A's back (as after a pause past the lease): A's
    // next write is refused by the fencing check.
    await redis.set(lease, 'elsewhere:1', { PX: 60_000 });
    s1.send({ kind: 'signal-sync', state: { a: 1, gone: true } });
    assert.equal(await s1.waitClose(10_000), CloseCode.SourceConflict);
    await redis.del(lease);

    const s2 = await TestPeer.connect(`${a.url}/source/${ch}`);
    await s2.next('welcome');
    s2.send({ kind: 'signal-sync', state: { a: 2, b: 3 } });
    const onA = await TestPeer.connect(`${a.url}/stream/${ch}`);
    await onA.until(() => JSON.stringify(onA.state) === JSON.stringify({ a: 2, b: 3 }), 10_000, 'the state on A');

    // A node that opens the channel now reads it from Redis: one sync with the whole state.
    const late = await TestPeer.connect(`${b.url}/stream/${ch}`);
    const sync = await late.next('signal-sync', 10_000);
    assert.deepEqual(sync.state, { a: 2, b: 3 });
    s2.send({ kind: 'signal-diff', diff: { c: 4 } });
    await late.until(() => JSON.stringify(late.state) === JSON.stringify({ a: 2, b: 3, c: 4 }), 10_000, 'the next diff on B');
    for (const p of [s2, onA, late]) p.close();
  });
});
