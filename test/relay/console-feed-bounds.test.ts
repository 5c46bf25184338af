// The console feed's per-client bounds on what a client can make the relay do: filter answers
// coalesced (at most one between two ticks), a too-long filter answered with an error (the feed
// stays), watch answers held back while the client is over its byte bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const ticks = (p: TestPeer) => p.texts.filter((x) => x.startsWith('{"type":"tick"'));

describe('console feed bounds', () => {
  it('filter changes are answered at most once between two ticks; the latest filter wins', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    for (let i = 0; i < 50; i++) assert.ok(relay.table.admit(`f-${i}`, 'receiver').ok);
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => f.close());
    await until(() => relay.console.feed.size === 1, 5000, 'the feed');
    relay.console.tick();
    await f.until(() => ticks(f).length === 1, 5000, 'the first tick');
    // 15 filter changes at once: one answer now, the rest coalesced.
    for (let i = 0; i < 15; i++) f.sendRaw(JSON.stringify({ q: `f-${i}` }));
    await f.until(() => ticks(f).length === 2, 5000, 'the first filter answer');
    await new Promise((r) => setTimeout(r, 300));
    // A filter answer repeats the time of the tick it filters (the relay's own ticks may come too).
    const times = ticks(f).map((x) => (JSON.parse(x) as { t: number }).t);
    assert.equal(times.filter((t, i) => times.indexOf(t) !== i).length, 1, 'one filter answer between ticks');
    // The next tick carries the latest filter.
    const n = ticks(f).length;
    relay.console.tick(Date.now() + 1);
    await f.until(() => ticks(f).length > n, 5000, 'the next tick');
    const last = JSON.parse(ticks(f).at(-1)!) as { channels: Array<{ name: string }> };
    assert.deepEqual(last.channels.map((c) => c.name), ['f-14']);
  });

  it('a filter over 256 characters is answered with an error and the feed stays', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => f.close());
    f.sendRaw(JSON.stringify({ q: 'a'.repeat(300) }));
    await f.until(() => f.texts.some((x) => x.includes('"type":"error"')), 5000, 'the error');
    relay.console.tick();
    await f.until(() => ticks(f).length > 0, 5000, 'a tick');
    assert.equal(f.closeCode, undefined);
  });

  it('watch answers for a client over its bound are held back, one pending, sent when it drains', async (t) => {
    const relay = await startTestRelay({ consoleFeedMaxBytes: 1024 });
    t.after(() => relay.close());
    for (let i = 0; i < 300; i++) assert.ok(relay.table.admit(`${'w'.repeat(100)}-${i}`, 'receiver').ok);
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => f.ws.terminate());
    await until(() => relay.console.feed.size === 1, 5000, 'the feed');
    const conn = [...(relay.console.feed as unknown as { clients: Set<{ conn: { bufferedAmount: number } }> }).clients][0]!.conn;
    f.pauseReading();
    // Fill the socket until the relay holds bytes for it.
    await until(() => {
      relay.console.tick();
      return conn.bufferedAmount > 1024;
    }, 10_000, 'a full socket');
    const held = conn.bufferedAmount;
    for (let i = 0; i < 15; i++) f.sendRaw(JSON.stringify({ watch: `${'w'.repeat(100)}-${i}` }));
    await until(() => relay.console.feed.coalesced > 0, 5000, 'answers held back');
    assert.equal(conn.bufferedAmount, held, 'nothing was queued while over the bound');
    f.resumeReading();
    // The latest watch is answered once the socket drains.
    await f.until(() => f.texts.some((x) => x.startsWith('{"type":"channel"') && x.includes(`-14"`)), 10_000, 'the latest detail');
    // The 14 watches before it were coalesced away: no detail of theirs was ever sent.
    const others = f.texts.filter((x) => x.startsWith('{"type":"channel"') && !x.includes(`-14"`));
    assert.equal(others.length, 0, `${others.length} details of superseded watches sent`);
  });
});
