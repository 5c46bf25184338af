import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { encodeDelta } from '../../src/protocol/delta-codec.js';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster, eventually, getJson } from './cluster-harness.js';
import type { Node } from './cluster-harness.js';

describe('cluster: shared state across relay nodes (redis engine)', () => {
  const cluster = new Cluster();
  let a: Node;
  let b: Node;
  let c: Node;
  before(async () => {
    [a, b, c] = await Promise.all([cluster.start(), cluster.start(), cluster.start()]);
  });
  after(() => cluster.stop());

  it('reports engine, epoch and node id; every node shares the epoch', async () => {
    const ha = (await getJson(`${a.http}/healthz`)).body;
    const hb = (await getJson(`${b.http}/healthz`)).body;
    assert.equal(ha.engine, 'redis');
    assert.equal(typeof ha.node, 'string');
    assert.notEqual(ha.node, hb.node);
    assert.equal(ha.epoch, hb.epoch);
    assert.equal((await getJson(`${a.http}/readyz`)).status, 200);
    const stats = (await getJson(`${c.http}/api/stats`)).body;
    assert.equal(stats.engine, 'redis');
    assert.equal(typeof stats.node, 'string');
    assert.equal(stats.epoch, ha.epoch);
  });

  it('a source on A, receivers on B and C: same merged state, select projection, one-frame catch-up', async () => {
    const src = await TestPeer.connect(`${a.url}/source/st`);
    const live = await TestPeer.connect(`${b.url}/stream/st`);
    const sel = await TestPeer.connect(`${c.url}/stream/st?select=user.name,n`);
    await live.next('welcome');
    await sel.next('welcome');
    src.send({ kind: 'signal-sync', state: { n: 1, user: { name: 'ada', age: 36 }, tags: ['x'] } });
    src.send({ kind: 'signal-diff', diff: { n: 2, user: { age: null }, extra: true } });
    src.send({ kind: 'signal-diff', diff: { tags: null, n: 3 } });
    const expected = { n: 3, user: { name: 'ada' }, extra: true };
    await live.until(() => isDeepStrictEqual(live.state, expected), 10_000, 'live receiver state');
    await sel.until(() => isDeepStrictEqual(sel.state, { n: 3, user: { name: 'ada' } }), 10_000, 'selected state');
    // A late joiner on another node gets ONE sync frame with the merged state.
    const late = await TestPeer.connect(`${c.url}/stream/st`);
    await late.next('welcome');
    const sync = await late.next('signal-sync', 10_000);
    assert.deepEqual(sync.state, expected);
    assert.equal(late.messages('signal-diff').length, 0, 'no history replayed');
    assert.equal(late.messages('signal-sync').length, 1);
    // And a joiner on the source's own node too.
    const local = await TestPeer.connect(`${a.url}/stream/st?select=n`);
    assert.deepEqual((await local.next('signal-sync', 10_000)).state, { n: 3 });
    for (const p of [src, live, sel, late, local]) p.close();
  });

  it('a state of 20,000 top-level fields is stored and replicated (large syncs and deletions)', async () => {
    const src = await TestPeer.connect(`${a.url}/source/wide`);
    // Built from four diffs: one JSON frame holds at most 8,192 members at the default 1 MiB limit.
    src.send({ kind: 'signal-sync', state: {} });
    for (let part = 0; part < 4; part++) {
      const chunk: Record<string, number> = {};
      for (let i = part * 5000; i < (part + 1) * 5000; i++) chunk[`k${i}`] = i;
      src.send({ kind: 'signal-diff', diff: chunk });
    }
    const r = await TestPeer.connect(`${b.url}/stream/wide`);
    await r.until(() => Object.keys(r.state).length === 20_000, 20_000, '20,000 fields on B');
    src.send({ kind: 'signal-sync', state: { only: 1 } });
    await r.until(() => isDeepStrictEqual(r.state, { only: 1 }), 20_000, 'every field deleted on B');
    const late = await TestPeer.connect(`${c.url}/stream/wide`);
    assert.deepEqual((await late.next('signal-sync', 10_000)).state, { only: 1 });
    assert.equal(src.closeCode, undefined);
    for (const p of [src, r, late]) p.close();
  });

  it('a receiver on another node sees the source go online and offline', async () => {
    const r = await TestPeer.connect(`${b.url}/stream/presence`);
    await r.next('welcome');
    const first = await r.next('source-status');
    assert.equal(first.status.online, false);
    const src = await TestPeer.connect(`${a.url}/source/presence`);
    await r.until(() => r.messages('source-status').some((m) => m.kind === 'source-status' && m.status.online), 10_000, 'online');
    src.close();
    await r.until(() => r.messages('source-status').slice(-1).some((m) => m.kind === 'source-status' && !m.status.online), 10_000, 'offline');
    r.close();
  });

  it('schema and pictures reach other nodes and late joiners', async () => {
    const src = await TestPeer.connect(`${a.url}/source/pic`);
    src.send({ kind: 'schema-announce', schema: { signals: ['n'], mode: 'signal' } } as never);
    const rgba = new Uint8Array(2 * 2 * 4).fill(7);
    src.send({ kind: 'keyframe', width: 2, height: 2, data: rgba });
    await eventually(async () => {
      const late = await TestPeer.connect(`${b.url}/stream/pic`);
      try {
        await late.next('keyframe', 2000);
        return true;
      } finally {
        late.close();
      }
    }, 10_000, 'keyframe on B');
    // Deltas (more than the 32 stored before a whole picture is stored again) reach live
    // receivers elsewhere, and a late joiner gets the current picture as one keyframe.
    const live = await TestPeer.connect(`${c.url}/stream/pic`);
    await live.next('keyframe', 10_000);
    let cur = rgba;
    for (let i = 1; i <= 40; i++) {
      const next = cur.slice();
      next[i % next.length] = i;
      src.send({ kind: 'delta-pixels', width: 2, height: 2, data: encodeDelta(cur, next) });
      cur = next;
    }
    await live.until(() => live.messages('delta-pixels').length === 40, 10_000, '40 deltas on C');
    const expected = cur;
    await eventually(async () => {
      const late = await TestPeer.connect(`${b.url}/stream/pic`);
      try {
        const k = await late.next('keyframe', 2000);
        return Buffer.from(k.data).equals(Buffer.from(expected));
      } finally {
        late.close();
      }
    }, 10_000, 'the current picture on B');
    live.close();
    src.close();
  });

  // Last: it kills node C.
  it('receiver counts across nodes in /api/stats, healed when a node dies', async () => {
    const src = await TestPeer.connect(`${a.url}/source/count`);
    const peers = [await TestPeer.connect(`${b.url}/stream/count`), await TestPeer.connect(`${b.url}/stream/count`), await TestPeer.connect(`${c.url}/stream/count`)];
    const count = async () => {
      const stats = (await getJson(`${a.http}/api/stats`)).body as { channels: Array<{ name: string; clusterReceivers?: number }> };
      return stats.channels.find((ch) => ch.name === 'count')?.clusterReceivers;
    };
    await eventually(async () => (await count()) === 3, 10_000, 'three receivers counted on A');
    c.child.kill('SIGKILL');
    await eventually(async () => (await count()) === 2, 10_000, 'the dead node no longer counted');
    for (const p of [src, ...peers]) p.close();
  });
});
