// The Redis engine's Welcome-after-lease under faults: a source whose node cannot reach Redis
// (redis-server killed, or hung like a network partition) must get a timely error, not wait
// forever for its Welcome; and a source that connects and leaves 200 times on one node while
// another node has receivers leaks no lease, leaves the receivers on a consistent sourceOnline,
// and keeps the prefix's keys bounded.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster, REDIS_URL, redisKeys, startRedis } from '../cluster/cluster-harness.js';

/** Kills a cluster's nodes without touching its (possibly dead or hung) Redis. */
async function killNodes(cluster: Cluster): Promise<void> {
  await Promise.all(
    cluster.nodes.map(async (n) => {
      if (n.child.exitCode !== null || n.child.signalCode !== null) return;
      const exited = new Promise((r) => n.child.once('exit', r));
      n.child.kill('SIGKILL');
      await exited;
    }),
  );
}

const lastOnline = (p: TestPeer) => p.messages('source-status').at(-1);

describe('attack: Redis engine handshake faults', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => {});
  });

  it('redis-server killed right after a source connects: the source gets an error close, not an endless wait', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const cluster = new Cluster(redis.url, 1000);
    cleanups.push(() => killNodes(cluster));
    const node = await cluster.start();
    const src = await TestPeer.connect(`${node.url}/source/kill-mid`);
    await redis.stop();
    const t0 = Date.now();
    // Either it was admitted before the kill (then it must still learn of the outage by a close
    // or keep working), or it is refused; it must not sit without a Welcome.
    const got = await Promise.race([src.next('welcome', 10_000).then(() => 'welcome'), src.closed.then((c) => `close ${c}`)]).catch(() => 'nothing');
    console.log(`redis killed: the source got ${got} after ${Date.now() - t0} ms`);
    assert.notEqual(got, 'nothing', `no Welcome and no close ${Date.now() - t0} ms after Redis died`);
    src.ws.terminate();
  });

  it('redis-server hung (SIGSTOP, a partition): a new source gets its Welcome or an error within 10 s', async () => {
    const redis = await startRedis();
    cleanups.push(async () => {
      redis.child.kill('SIGCONT');
      await redis.stop();
    });
    const cluster = new Cluster(redis.url, 1000);
    cleanups.push(() => killNodes(cluster));
    const node = await cluster.start();
    redis.child.kill('SIGSTOP');
    const src = await TestPeer.connect(`${node.url}/source/hung`);
    const t0 = Date.now();
    const got = await Promise.race([src.next('welcome', 10_000).then(() => 'welcome'), src.closed.then((c) => `close ${c}`)]).catch(() => 'nothing');
    src.ws.terminate();
    redis.child.kill('SIGCONT');
    assert.notEqual(got, 'nothing', `a source waited ${Date.now() - t0} ms with no Welcome and no close while Redis hung`);
  });

  it('redis-server hung after a source was welcomed: its writes do not pile up forever; it is closed (1011) within a few lease periods', async () => {
    const redis = await startRedis();
    cleanups.push(async () => {
      redis.child.kill('SIGCONT');
      await redis.stop();
    });
    const cluster = new Cluster(redis.url, 1000);
    cleanups.push(() => killNodes(cluster));
    const node = await cluster.start();
    const src = await TestPeer.connect(`${node.url}/source/hung-later`);
    await src.next('welcome', 10_000);
    src.send({ kind: 'signal-sync', state: { n: 0 } });
    redis.child.kill('SIGSTOP');
    const t0 = Date.now();
    for (let i = 1; i <= 50 && src.closeCode === undefined; i++) {
      src.send({ kind: 'signal-diff', diff: { n: i } });
      await new Promise((r) => setTimeout(r, 20));
    }
    const code = await Promise.race([src.closed, new Promise((r) => setTimeout(() => r('open'), 10_000))]);
    redis.child.kill('SIGCONT');
    src.ws.terminate();
    assert.equal(code, 1011, `the source was still ${String(code)} ${Date.now() - t0} ms after Redis hung`);
  });

  it('200 rapid source connect/leave cycles on node A, receivers on node B: no lease leaked, B ends offline, keys bounded', async () => {
    const cluster = new Cluster(REDIS_URL, 1000);
    cleanups.push(() => cluster.stop());
    const [a, b] = await Promise.all([cluster.start(), cluster.start()]);
    const rs = await Promise.all(Array.from({ length: 3 }, () => TestPeer.connect(`${b.url}/stream/churn`)));
    for (const r of rs) await r.next('welcome');
    let welcomed = 0;
    const unwelcomed: string[] = [];
    const t1 = Date.now();
    for (let i = 0; i < 200; i++) {
      const s = await TestPeer.connect(`${a.url}/source/churn`);
      if (i % 10 === 0) {
        const got = await Promise.race([s.next('welcome', 5000).then(() => 'welcome'), s.closed.then((c) => `close ${c} ${s.closeReason}`)]).catch(() => 'nothing in 5 s');
        if (got === 'welcome') welcomed++;
        else unwelcomed.push(`#${i}: ${got}`);
      }
      if (i % 5 === 0) s.send({ kind: 'signal-sync', state: { i } });
      s.ws.terminate();
    }
    console.log(`churn: 200 cycles in ${Date.now() - t1} ms; of 20 sources waited on, ${welcomed} welcomed, not: ${unwelcomed.join('; ')}`);
    // After the churn, nobody is the source: B's receivers must end on online=false.
    for (const [k, r] of rs.entries()) {
      await r.until(() => {
        const m = lastOnline(r);
        return m?.kind === 'source-status' && m.status.online === false;
      }, 10_000, `receiver ${k} on B sees the source offline`).catch(() => undefined);
      const m = lastOnline(r);
      assert.ok(m?.kind === 'source-status' && m.status.online === false, `receiver ${k} on B: last source status ${JSON.stringify(m)}`);
    }
    // And a fresh source on B is admitted at once (no leaked lease to wait out).
    const t0 = Date.now();
    const fresh = await TestPeer.connect(`${b.url}/source/churn`);
    await fresh.next('welcome', 5000);
    const wait = Date.now() - t0;
    assert.ok(wait < 900, `a new source waited ${wait} ms: a lease from the churn was left behind`);
    fresh.ws.terminate();
    const keys = await redisKeys(REDIS_URL, cluster.prefix);
    assert.ok(keys.length < 40, `${keys.length} keys under the prefix after 200 cycles: ${keys.slice(0, 20).join(' ')}`);
    for (const r of rs) r.ws.terminate();
    // Measured: 1–3 of the 20 are refused with 4409 "already has a source (on another relay node)":
    // the lease taken by the previous connection's in-flight acquire (it left before its Welcome)
    // is released only after the new connection's acquire has been refused.
    assert.deepEqual(unwelcomed, [], 'each source of the churn (waited on) gets its Welcome: its predecessor on the same node left');
  });

  it('a source that drops before its Welcome and reconnects at once on the same node is admitted (50 tries)', async () => {
    const cluster = new Cluster(REDIS_URL, 1000);
    cleanups.push(() => cluster.stop());
    const a = await cluster.start();
    const refused: string[] = [];
    for (let i = 0; i < 50; i++) {
      const ch = `redrop-${i}`;
      const first = await TestPeer.connect(`${a.url}/source/${ch}`);
      first.ws.terminate(); // gone before its Welcome: its lease acquisition is still in flight
      const second = await TestPeer.connect(`${a.url}/source/${ch}`);
      const got = await Promise.race([second.next('welcome', 5000).then(() => 'welcome'), second.closed.then((c) => `close ${c} ${second.closeReason}`)]).catch(() => 'nothing in 5 s');
      if (got !== 'welcome') refused.push(`#${i}: ${got}`);
      second.ws.terminate();
    }
    // Measured: a handful of the 50 (e.g. 3–10) refused with 4409 "already has a source (on
    // another relay node)": the first connection's acquire took the lease after it left, and its
    // release comes only after the second's acquire was refused.
    assert.deepEqual(refused, [], `${refused.length} of 50 reconnecting sources refused`);
  });
});
