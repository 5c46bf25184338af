// A hostile network between clients and the relay (test/support/tcp-proxy.ts): stalled
// connections, connections cut mid-stream, and a link that drops 150 ms of every 300 ms while
// clients keep reconnecting and publishing. The relay must stay healthy, keep direct clients
// up to date, catch stalled receivers up, and forget every connection that died.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestPeer, sleep, spawnGuardedRelay } from '../support/relay-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describe('hostile network', () => {
  it('stall, resume, drop and a flapping link: the relay stays healthy and leaks no connection', { timeout: 60_000 }, async (t) => {
    const relay = await spawnGuardedRelay(t);
    const proxy = await TcpProxy.start(relay.url);
    t.after(() => proxy.close());
    const src = await TestPeer.connect(`${relay.url}/source/net`);
    src.send({ kind: 'signal-sync', state: { n: 0, blob: '' } });
    const direct = await TestPeer.connect(`${relay.url}/stream/net`);
    await direct.until(() => direct.state.n === 0);
    let n = 0;
    const publish = setInterval(() => {
      n++;
      // Every tenth diff carries 64 KiB, so stalled sockets really fill up.
      src.send({ kind: 'signal-diff', diff: n % 10 === 0 ? { n, blob: 'x'.repeat(64 * 1024 + (n % 7)) } : { n } });
    }, 10);
    t.after(() => clearInterval(publish));

    // Stall: receivers behind the proxy see nothing; the direct one keeps up; after resume all catch up.
    const stalled = await Promise.all(Array.from({ length: 5 }, () => TestPeer.connect(`${proxy.url}/stream/net`)));
    await Promise.all(stalled.map((p) => p.until(() => typeof p.state.n === 'number')));
    proxy.stall();
    const atStall = n;
    await sleep(1500);
    await direct.until(() => (direct.state.n as number) > atStall + 50, 5000, 'the direct receiver during the stall');
    proxy.resume();
    const target = n;
    await Promise.all(stalled.map((p) => p.until(() => (p.state.n as number) >= target, 10_000, 'a stalled receiver to catch up')));

    // Drop: every proxied connection is cut; the relay must notice and forget them.
    proxy.drop();
    await Promise.all(stalled.map((p) => p.waitClose(5000)));

    // Flap: 150 ms down in every 300 ms while clients keep reconnecting, receiving and publishing.
    proxy.startFlapping(300, 150);
    const until = Date.now() + 3000;
    let attempts = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        while (Date.now() < until) {
          attempts++;
          const path = w % 2 === 0 ? '/stream/net' : `/source/flap-${w}`;
          try {
            const p = await Promise.race([TestPeer.connect(proxy.url + path), sleep(1000).then(() => undefined)]);
            if (p && p.closeCode === undefined && w % 2 === 1) for (let i = 0; i < 20; i++) p.send({ kind: 'signal-diff', diff: { i } });
            await sleep(100);
            p?.ws.terminate();
          } catch {
            await sleep(20);
          }
        }
      }),
    );
    proxy.stopFlapping();
    t.diagnostic(`${attempts} connection attempts through the flapping link; ${proxy.dropped} cut`);

    assert.equal(relay.exit, undefined, `the relay exited:\n${relay.stderr().slice(-3000)}`);
    assert.equal((await fetch(`${relay.http}/healthz`)).status, 200);
    const now = n;
    await direct.until(() => (direct.state.n as number) >= now, 5000, 'the direct receiver after the flapping');
    const late = await TestPeer.connect(`${proxy.url}/stream/net`);
    await late.until(() => (late.state.n as number) >= now, 5000, 'a receiver through the proxy after the flapping');
    late.close();
    await late.waitClose();
    // Only the source and the direct receiver are left (the relay forgot every dead connection).
    let connections = -1;
    for (let i = 0; i < 100; i++) {
      connections = ((await (await fetch(`${relay.http}/api/stats`)).json()) as { connections: number }).connections;
      if (connections === 2) break;
      await sleep(50);
    }
    assert.equal(connections, 2, 'connections the relay still holds');
    clearInterval(publish);
    src.close();
    direct.close();
  });
});
