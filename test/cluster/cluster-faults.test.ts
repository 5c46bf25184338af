import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { createClient } from 'redis';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster, eventually, getJson, startRedis } from './cluster-harness.js';
import type { Node } from './cluster-harness.js';

const online = (p: TestPeer) => p.messages('source-status').slice(-1).some((m) => m.kind === 'source-status' && m.status.online);
const offline = (p: TestPeer) => p.messages('source-status').slice(-1).some((m) => m.kind === 'source-status' && !m.status.online);
const sawValue = (p: TestPeer, key: string, value: unknown) =>
  p.messages().some((m) => (m.kind === 'signal-diff' && m.diff[key] === value) || (m.kind === 'signal-sync' && m.state[key] === value));

/** Connects a source on `url` until one is admitted (its lease taken) and its first state is visible to `watcher`. */
async function takeSource(url: string, watcher: TestPeer, state: Record<string, string | number>, ms = 15_000): Promise<TestPeer> {
  let src: TestPeer | undefined;
  await eventually(async () => {
    src?.close();
    src = await TestPeer.connect(url);
    src.send({ kind: 'signal-sync', state });
    await watcher.until(() => isDeepStrictEqual(watcher.state, state) || src!.closeCode !== undefined, 3000, 'source admitted');
    return src.closeCode === undefined;
  }, ms, 'a source to be admitted');
  return src!;
}

describe('cluster: faults', () => {
  const cleanups: Array<() => Promise<void>> = [];
  // The fencing and kill tests share three nodes (the kill test runs last: it kills two of them).
  const cluster = new Cluster(undefined, 1000);
  let a: Node;
  let b: Node;
  let c: Node;
  let privateRedis: { redis: Awaited<ReturnType<typeof startRedis>>; a: Node; b: Node } | undefined;
  before(async () => {
    [a, b, c] = await Promise.all([cluster.start(), cluster.start(), cluster.start()]);
  });
  after(async () => {
    await cluster.stop();
    for (const f of cleanups) await f();
  });

  it('fencing: a node paused past its lease cannot write for its old source, which is closed with 4409', async () => {
    const old = await TestPeer.connect(`${a.url}/source/fence`);
    const watcher = await TestPeer.connect(`${c.url}/stream/fence`);
    const onA = await TestPeer.connect(`${a.url}/stream/fence`);
    old.send({ kind: 'signal-sync', state: { v: 'a1' } });
    await watcher.until(() => watcher.state.v === 'a1', 10_000, 'a1 on C');
    await onA.until(() => onA.state.v === 'a1', 10_000, 'a1 on A');

    a.child.kill('SIGSTOP');
    // Reject policy: B gets the channel only once A's lease has expired.
    const fresh = await takeSource(`${b.url}/source/fence`, watcher, { v: 'b1' });
    // The old source writes through the paused node, then the node wakes up.
    old.send({ kind: 'signal-diff', diff: { v: 'stale', stale: true } });
    a.child.kill('SIGCONT');
    assert.equal(await old.waitClose(10_000), CloseCode.SourceConflict);
    fresh.send({ kind: 'signal-diff', diff: { v: 'b2' } });
    await watcher.until(() => watcher.state.v === 'b2', 10_000, 'b2 on C');
    await onA.until(() => onA.state.v === 'b2', 10_000, 'b2 on A');
    assert.deepEqual(watcher.state, { v: 'b2' });
    assert.deepEqual(onA.state, { v: 'b2' });
    assert.ok(!sawValue(watcher, 'v', 'stale') && !sawValue(onA, 'v', 'stale'), 'the stale write reached nobody');
    for (const p of [fresh, watcher, onA]) p.close();
  });

  it('a node too slow for its pub/sub is cut off by Redis, reconnects, rereads and converges (its receivers too)', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const own = new Cluster(redis.url, 1000);
    cleanups.push(() => own.stop());
    privateRedis = { redis, a: await own.start(), b: await own.start() };
    const { a, b } = privateRedis;
    const admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
    const nodeB = String((await getJson(`${b.http}/healthz`)).body.node);
    const src = await TestPeer.connect(`${a.url}/source/slow`);
    const r = await TestPeer.connect(`${b.url}/stream/slow`);
    src.send({ kind: 'signal-sync', state: { n: 0 } });
    await r.until(() => r.state.n === 0, 10_000, 'n0');
    b.child.kill('SIGSTOP');
    try {
      const pad = 'x'.repeat(256);
      for (let i = 1; i <= 300; i++) src.send({ kind: 'signal-diff', diff: { n: i, [`f${i % 20}`]: `${pad}${i}`, [`g${i % 7}`]: i % 3 === 0 ? null : i } });
      const late = await TestPeer.connect(`${a.url}/stream/slow`);
      await late.until(() => late.state.n === 300, 10_000, 'reference state');
      // What Redis does to a subscriber past its pub/sub output buffer limit (client-output-buffer-limit):
      // it closes the connection, and messages published meanwhile are gone for that node.
      const victim = (await admin.clientList()).find((cl) => cl.name === `sluice-sub-${nodeB}`);
      assert.ok(victim, "B's subscriber connection is named");
      await admin.sendCommand(['CLIENT', 'KILL', 'ID', String(victim.id)]);
      src.send({ kind: 'signal-diff', diff: { n: 301 } });
      await late.until(() => late.state.n === 301, 10_000, 'reference state 301');
      b.child.kill('SIGCONT');
      await r.until(() => isDeepStrictEqual(r.state, late.state), 15_000, 'B converges').catch((e: unknown) => {
        throw new Error(`${String(e)}: B has ${JSON.stringify(r.state).replace(/x{256}/g, '')}, want ${JSON.stringify(late.state).replace(/x{256}/g, '')}; receiver close ${r.closeCode}; node B exit ${b.child.exitCode} ${b.child.signalCode}; stderr ${b.stderr()}`);
      });
      late.close();
    } finally {
      b.child.kill('SIGCONT');
    }
    admin.destroy();
    src.close();
    r.close();
  });

  it('Redis restart: /readyz 503 and sources refused while it is down; a new epoch and convergence after', async () => {
    assert.ok(privateRedis, 'runs after the slow-node test (same private Redis and nodes)');
    const { redis, a, b } = privateRedis;
    const epoch1 = (await getJson(`${a.http}/healthz`)).body.epoch;
    const src = await TestPeer.connect(`${a.url}/source/rr`);
    const r = await TestPeer.connect(`${b.url}/stream/rr`);
    src.send({ kind: 'signal-sync', state: { v: 1 } });
    await r.until(() => r.state.v === 1, 10_000, 'v1');

    await redis.stop();
    await eventually(async () => (await getJson(`${a.http}/readyz`)).status === 503 && (await getJson(`${b.http}/readyz`)).status === 503, 10_000, 'readyz 503');
    src.send({ kind: 'signal-diff', diff: { v: 2 } });
    const code = await src.waitClose(10_000);
    assert.ok(code !== CloseCode.Normal && code !== CloseCode.NotAllowed && code !== CloseCode.NotFound, `closed with a retryable code (${code})`);
    assert.ok(src.messages('error').length > 0, 'told why');
    const refused = await TestPeer.connect(`${a.url}/source/rr`);
    refused.send({ kind: 'signal-diff', diff: { v: 3 } });
    await refused.waitClose(10_000);

    const redis2 = await startRedis(redis.port);
    cleanups.push(() => redis2.stop());
    await eventually(async () => (await getJson(`${a.http}/readyz`)).status === 200 && (await getJson(`${b.http}/readyz`)).status === 200, 15_000, 'readyz 200');
    const epoch2 = (await getJson(`${b.http}/healthz`)).body.epoch;
    assert.notEqual(epoch2, epoch1, 'the epoch changed');
    assert.equal((await getJson(`${a.http}/healthz`)).body.epoch, epoch2);
    const src2 = await takeSource(`${a.url}/source/rr`, r, { v: 4 });
    const late = await TestPeer.connect(`${b.url}/stream/rr`);
    const w = await late.next('welcome');
    assert.equal(w.welcome.epoch, epoch2);
    await late.until(() => late.state.v === 4, 10_000, 'late joiner after restart');
    for (const p of [src2, r, late]) p.close();
  });
  it('kill -9 under load: receivers of a killed node reconnect elsewhere and converge; presence heals; the source moves', async () => {
    let src = await TestPeer.connect(`${a.url}/source/load`);
    const onB = await TestPeer.connect(`${b.url}/stream/load?select=n`);
    const onC = await TestPeer.connect(`${c.url}/stream/load`);
    let n = 0;
    let running = true;
    const pump = (async () => {
      while (running) {
        if (src.closeCode === undefined) src.send({ kind: 'signal-diff', diff: { n: ++n, [`k${n % 50}`]: n } });
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await onC.until(() => Number(onC.state.n) > 50, 10_000, 'load flowing');
    // Kill a receiver node: its receiver reconnects to C and converges.
    b.child.kill('SIGKILL');
    await onB.waitClose(10_000);
    const target = n;
    const moved = await TestPeer.connect(`${c.url}/stream/load?select=n`);
    await moved.until(() => Number(moved.state.n) > target, 10_000, 'moved receiver follows');
    // Kill the source's node: C sees the source go offline once its lease expires.
    a.child.kill('SIGKILL');
    await src.waitClose(10_000);
    await onC.until(() => offline(onC), 10_000, 'source offline after its node died');
    running = false;
    await pump;
    const d = await cluster.start();
    const expected = { ...onC.state, n: n + 1 };
    src = await TestPeer.connect(`${d.url}/source/load`);
    src.send({ kind: 'signal-sync', state: expected });
    await onC.until(() => online(onC) && isDeepStrictEqual(onC.state, expected), 10_000, 'C converges to the new source');
    await moved.until(() => moved.state.n === n + 1, 10_000, 'moved converges');
    assert.deepEqual(moved.state, { n: n + 1 });
    for (const p of [src, onC, moved]) p.close();
  });

});
