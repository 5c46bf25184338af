// Attacks on the console's push feed (/api/feed): clients that send garbage, flood watch
// requests, or never read while making the relay send; and other peers' latency meanwhile.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

/** Creates channels without connections (the table is what the feed reads). */
function createChannels(relay: TestRelay, names: string[]): void {
  for (const n of names) assert.ok(relay.table.admit(n, 'receiver').ok);
}

/** The relay-side connection of the only (or `i`-th) feed client. */
function feedConn(relay: TestRelay, i = 0): { bufferedAmount: number } {
  const clients = (relay.console.feed as unknown as { clients: Set<{ conn: { bufferedAmount: number } }> }).clients;
  return [...clients][i]!.conn;
}

describe('attack: console feed', () => {
  it('garbage, binary, oversize, invalid UTF-8, deep JSON and wrong types close only that feed (4400)', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const cases: Array<[string, string | Uint8Array]> = [
      ['binary', new Uint8Array([0x7b, 0x7d])],
      ['not JSON', 'watch me'],
      ['a JSON array', '[1,2,3]'],
      ['a JSON string', '"watch"'],
      ['null', 'null'],
      ['oversize', JSON.stringify({ q: 'x'.repeat(5000) })],
      ['watch a number', '{"watch": 5}'],
      ['watch an object', '{"watch": {"a": 1}}'],
      ['watch too long', JSON.stringify({ watch: 'w'.repeat(300) })],
      ['q an array', '{"q": ["a"]}'],
      ['deep JSON', '['.repeat(2000) + ']'.repeat(2000)],
      // A text frame whose bytes are not UTF-8 ({"q":"\xff\xfe"}).
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ];
    for (const [what, payload] of cases) {
      const f = await TestPeer.connect(`${relay.url}/api/feed`);
      if (Buffer.isBuffer(payload)) f.ws.send(payload, { binary: false });
      else f.sendRaw(payload);
      const code = await f.waitClose();
      // uWS drops a connection with invalid UTF-8 text without a close frame (1006 here).
      assert.ok(code === 4400 || code === 1007 || (what === 'invalid UTF-8' && code === 1006), `${what}: closed with ${code}`);
    }
    // __proto__ and constructor keys are just unknown keys: ignored, the feed stays.
    const ok = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => ok.close());
    ok.sendRaw('{"__proto__": {"watch": "x"}, "constructor": 1}');
    relay.console.tick();
    await ok.until(() => ok.texts.some((x) => x.includes('"type":"tick"')), 5000, 'a tick');
    assert.equal(ok.closeCode, undefined);
    assert.equal(relay.console.feed.size, 1);
  });

  it('watch requests for thousands of channels are rate limited (4429) and cost bounded detail work', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, Array.from({ length: 2000 }, (_, i) => `w-${i}`));
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    for (let i = 0; i < 2000; i++) f.sendRaw(JSON.stringify({ watch: `w-${i}` }));
    assert.equal(await f.waitClose(), 4429);
    // At most 20 details were sent before the cut.
    const details = f.texts.filter((x) => x.startsWith('{"type":"channel"')).length;
    assert.ok(details <= 20, `${details} details sent`);
  });

  it('many feed connections: past --console-max-feeds refused with 4509, the relay keeps serving peers', async (t) => {
    const relay = await startTestRelay({ consoleMaxFeeds: 8 });
    t.after(() => relay.close());
    const feeds: TestPeer[] = [];
    t.after(() => feeds.forEach((f) => f.ws.terminate()));
    for (let i = 0; i < 40; i++) feeds.push(await TestPeer.connect(`${relay.url}/api/feed`));
    await until(() => feeds.filter((f) => f.closeCode === 4509).length === 32, 5000, '32 refusals');
    assert.equal(relay.console.feed.size, 8);
    // A state source and a receiver still work at once.
    const src = await TestPeer.connect(`${relay.url}/source/busy`);
    const rcv = await TestPeer.connect(`${relay.url}/stream/busy`);
    t.after(() => {
      src.close();
      rcv.close();
    });
    await src.next('welcome');
    src.send({ kind: 'signal-sync', state: { n: 1 } });
    await rcv.until(() => rcv.state.n === 1, 5000, 'the state');
  });

  // FINDING (high): the slow-client bound is applied to ticks only. A feed client that stops
  // reading and sends `{"q": …}` (or `{"watch": …}`) 20 times a second — within the rate limit —
  // gets a full tick (or detail) queued for each message, however much is already unsent. The
  // docs promise "a slow console costs the relay at most that bound plus one tick".
  it('a feed client that never reads cannot make the relay queue more than the bound plus a tick by sending q messages', { timeout: 30_000 }, async (t) => {
    const bound = 64 * 1024;
    const relay = await startTestRelay({ consoleFeedMaxBytes: bound });
    t.after(() => relay.close());
    // 1,500 channels with long names: a tick of roughly 600 KB.
    createChannels(relay, Array.from({ length: 1500 }, (_, i) => `${'n'.repeat(100)}-${i}`));
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => f.ws.terminate());
    await until(() => relay.console.feed.size === 1, 5000, 'the feed');
    relay.console.tick();
    await f.until(() => f.texts.length > 0, 5000, 'the first tick');
    const tickBytes = f.texts[0]!.length;
    f.pauseReading();
    // 19 messages a second (under the limit of 20) for 2 seconds.
    let max = 0;
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < 19; i++) f.sendRaw(JSON.stringify({ q: i % 2 ? 'n' : '' }));
      const end = Date.now() + 1050;
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
        if (relay.console.feed.size > 0) max = Math.max(max, feedConn(relay).bufferedAmount);
      }
    }
    const closedByRelay = f.closeCode;
    // Cut it off now: a client that does not read would hold the relay's close for its timeout.
    f.ws.terminate();
    assert.equal(closedByRelay, undefined, 'the client stayed within the documented message rate');
    assert.ok(max <= bound + 2 * tickBytes, `the relay queued ${(max / 1e6).toFixed(1)} MB for a client that does not read (bound ${bound} B, tick ${tickBytes} B)`);
  });

  it('other peers keep their latency while 8 feeds get 2,000-row ticks', { timeout: 30_000 }, async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, Array.from({ length: 3000 }, (_, i) => `load-${i}`));
    const feeds: TestPeer[] = [];
    t.after(() => feeds.forEach((f) => f.ws.terminate()));
    for (let i = 0; i < 8; i++) feeds.push(await TestPeer.connect(`${relay.url}/api/feed`));
    const src = await TestPeer.connect(`${relay.url}/source/live`);
    const rcv = await TestPeer.connect(`${relay.url}/stream/live`);
    t.after(() => {
      src.close();
      rcv.close();
    });
    await src.next('welcome');
    src.send({ kind: 'signal-sync', state: { n: 0 } });
    await rcv.until(() => rcv.state.n === 0, 5000, 'the first state');
    // The relay's own ticks run (once a second) while the source sends 50 diffs a second.
    const lat: number[] = [];
    for (let n = 1; n <= 100; n++) {
      const t0 = performance.now();
      src.send({ kind: 'signal-diff', diff: { n } });
      await rcv.until(() => rcv.state.n === n, 5000, `diff ${n}`);
      lat.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(feeds.every((f) => f.texts.some((x) => x.includes('"truncated":true'))), 'every feed got truncated ticks');
    lat.sort((a, b) => a - b);
    assert.ok(lat[Math.floor(lat.length * 0.99)]! < 500, `p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(0)} ms`);
  });

  // FINDING (low): feed clients are not relay peers, so close(deadline) never terminates them;
  // their 1001 close waits for the transport's 10 s close-handshake timer. A console tab whose
  // socket is stuck (or a client that stops reading) holds the relay's shutdown past its deadline.
  it('shutdown honours its deadline when a feed client does not answer the close', { timeout: 30_000 }, async (t) => {
    const relay = await startTestRelay();
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => f.ws.terminate());
    await until(() => relay.console.feed.size === 1, 5000, 'the feed');
    f.pauseReading();
    const t0 = performance.now();
    await relay.close(500);
    const took = performance.now() - t0;
    assert.ok(took < 3000, `relay.close(500) took ${(took / 1000).toFixed(1)} s with one stuck feed client`);
  });
});
