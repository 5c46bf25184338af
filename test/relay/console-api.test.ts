// The console's JSON API and push feed: bounded pages, safe names, bounded state, admin auth,
// slow feed clients skipped then closed, and per-channel metrics behind the cardinality guard.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const base = (relay: TestRelay) => relay.url.replace('ws:', 'http:');
const get = async (relay: TestRelay, path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(base(relay) + path, { headers });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: body as Record<string, unknown>, headers: res.headers, bytes: text.length };
};

/** Creates channels without connections (the table is what the API reads). */
function createChannels(relay: TestRelay, names: string[]): void {
  for (const n of names) assert.ok(relay.table.admit(n, 'receiver').ok);
}

describe('console API', () => {
  it('pages /api/channels with bounds and filters', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, Array.from({ length: 30 }, (_, i) => `room-${String(i).padStart(2, '0')}`));
    createChannels(relay, ['lobby.a', 'lobby.b']);
    let r = await get(relay, '/api/channels?limit=10');
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 32);
    assert.equal((r.body.channels as unknown[]).length, 10);
    assert.equal(r.body.next, 10);
    assert.equal((r.body.channels as Array<{ name: string }>)[0]!.name, 'lobby.a');
    r = await get(relay, '/api/channels?offset=30&limit=10');
    assert.deepEqual(
      (r.body.channels as Array<{ name: string }>).map((c) => c.name),
      ['room-28', 'room-29'],
    );
    assert.equal(r.body.next, null);
    r = await get(relay, '/api/channels?limit=999999999');
    assert.equal(r.body.limit, 1000, 'the page size is capped');
    r = await get(relay, '/api/channels?offset=5000');
    assert.deepEqual(r.body.channels, []);
    r = await get(relay, '/api/channels?prefix=lobby.');
    assert.equal(r.body.total, 2);
    r = await get(relay, '/api/channels?q=M-1');
    assert.equal(r.body.total, 10, 'q is a case-insensitive substring');
    for (const bad of ['limit=-1', 'limit=abc', 'offset=1e3', 'limit=99999999999999999999', `q=${'x'.repeat(300)}`]) {
      r = await get(relay, `/api/channels?${bad}`);
      assert.equal(r.status, 400, bad);
    }
    const row = (await get(relay, '/api/channels?prefix=room-00')).body.channels as Array<Record<string, unknown>>;
    for (const key of ['online', 'receivers', 'receiversPeak', 'framesInPerSec', 'bytesOutPerSec', 'conflatedDiffs', 'skippedFrames', 'droppedFrames', 'stateVersion', 'kinds']) assert.ok(key in row[0]!, key);
  });

  it('decodes channel names safely and bounds the state it returns', async (t) => {
    const relay = await startTestRelay({ maxJsonPayload: 2 * 1024 * 1024 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/big`);
    t.after(() => src.close());
    await src.next('welcome');
    const state: Record<string, string> = {};
    for (let i = 0; i < 40; i++) state[`f${i}`] = 'v'.repeat(8 * 1024);
    src.send({ kind: 'signal-sync', state });
    await until(() => relay.channels.get('big')?.cache.version === 1, 5000, 'the state');

    const bad = await get(relay, '/api/channels/%E0%A4%A');
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /percent-encoding/);
    assert.equal((await get(relay, '/api/channels/nope')).status, 404);
    assert.equal((await get(relay, `/api/channels/${'a'.repeat(300)}`)).status, 400);
    assert.equal((await get(relay, '/api/channels/big/x/y')).status, 404);
    assert.equal((await get(relay, '/api/channels/big/picture')).status, 404);
    assert.equal((await get(relay, '/api/channels/%3Cscript%3E')).status, 404);

    const d = await get(relay, '/api/channels/big');
    assert.equal(d.status, 200);
    assert.equal(d.body.stateTruncated, true);
    assert.equal(d.body.fields, 40);
    const shown = Object.keys(d.body.state as object).length;
    assert.ok(shown > 0 && shown < 40, `${shown} fields shown`);
    assert.ok(d.bytes < 80 * 1024, `detail is ${d.bytes} bytes`);
    assert.equal((d.body.fieldList as unknown[]).length, shown);
    assert.equal(d.headers.get('content-type'), 'application/json');

    // A name only another way in could create is looked up percent-encoded, returned as data.
    const hostile = '<script>alert(1)</script>';
    assert.ok(relay.table.admit(hostile, 'receiver').ok);
    const h = await get(relay, `/api/channels/${encodeURIComponent(hostile)}`);
    assert.equal(h.status, 200);
    assert.equal(h.body.name, hostile);
    assert.equal(h.headers.get('x-content-type-options'), 'nosniff');
  });

  it('serves a pixel channel picture as PNG and lists receivers with their lag', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/cam`);
    const rcv = await TestPeer.connect(`${relay.url}/stream/cam?select=a,b`);
    t.after(() => {
      src.close();
      rcv.close();
    });
    await src.next('welcome');
    const px = new Uint8Array(4 * 3 * 4).fill(200);
    src.send({ kind: 'pixels', width: 4, height: 3, data: px });
    await until(() => relay.channels.get('cam')?.cache.hasPicture === true, 5000, 'the picture');
    const res = await fetch(`${base(relay)}/api/channels/cam/picture`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const png = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    await rcv.next('welcome');
    const d = await get(relay, '/api/channels/cam');
    const list = d.body.receiverList as Array<Record<string, unknown>>;
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.select, ['a', 'b']);
    assert.equal(list[0]!.remote, '127.0.0.1');
    assert.equal(list[0]!.behind, false);
    assert.equal(typeof list[0]!.connectedAt, 'number');
    assert.deepEqual(d.body.picture, { width: 4, height: 3, version: 1, compressed: false });
  });

  it('requires the admin claim under --auth jwt (API, page and feed)', async (t) => {
    const secret = 'console-api-secret-0123456789abcdef';
    const relay = await startTestRelay({ auth: 'jwt', jwtSecret: secret });
    t.after(() => relay.close());
    const key = new TextEncoder().encode(secret);
    const admin = await new SignJWT({ admin: true }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(key);
    const user = await new SignJWT({ subscribe: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(key);
    for (const path of ['/api/channels', '/api/channels/x', '/api/relay', '/console']) {
      assert.equal((await get(relay, path)).status, 401, path);
      assert.equal((await get(relay, `${path}?token=garbage`)).status, 401, path);
      assert.equal((await get(relay, path, { authorization: `Bearer ${user}` })).status, 403, path);
      assert.notEqual((await get(relay, `${path}?token=${admin}`)).status, 401, path);
    }
    assert.equal((await get(relay, '/api/channels', { authorization: `Bearer ${admin}` })).status, 200);
    assert.equal((await get(relay, '/api/relay', { authorization: `Bearer ${admin}` })).status, 200);
    // The page's code needs no token (it holds no data); the page itself does.
    assert.equal((await get(relay, '/console/app.js')).status, 200);
    const page = await get(relay, `/console?token=${admin}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');

    const refused = await TestPeer.connect(`${relay.url}/api/feed`);
    assert.equal(await refused.waitClose(), 4401);
    const forbidden = await TestPeer.connect(`${relay.url}/api/feed?token=${user}`);
    assert.equal(await forbidden.waitClose(), 4403);
    const ok = await TestPeer.connect(`${relay.url}/api/feed?token=${admin}`);
    t.after(() => ok.close());
    relay.console.tick();
    await ok.until(() => ok.texts.length > 0, 5000, 'a tick');
    assert.equal(JSON.parse(ok.texts[0]!).type, 'tick');
  });

  it('feed: one tick for everyone, watch a channel, bounded clients, slow clients skipped then closed', { timeout: 60_000 }, async (t) => {
    const relay = await startTestRelay({ consoleMaxFeeds: 3, consoleFeedMaxBytes: 64 * 1024 });
    t.after(() => relay.close());
    createChannels(relay, Array.from({ length: 400 }, (_, i) => `ch-${i}`));
    const fast = await TestPeer.connect(`${relay.url}/api/feed`);
    const slow = await TestPeer.connect(`${relay.url}/api/feed`);
    const third = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => {
      fast.close();
      slow.ws.terminate();
      third.close();
    });
    const fourth = await TestPeer.connect(`${relay.url}/api/feed`);
    assert.equal(await fourth.waitClose(), 4509, 'past --console-max-feeds');

    fast.sendRaw(JSON.stringify({ watch: 'ch-7' }));
    third.sendRaw(JSON.stringify({ q: 'ch-39' }));
    await until(() => relay.console.feed.size === 3, 5000, 'three feeds');
    relay.console.tick();
    await fast.until(() => fast.texts.some((x) => x.includes('"type":"channel"')) && fast.texts.some((x) => x.includes('"type":"tick"')), 5000, 'tick and detail');
    const tick = JSON.parse(fast.texts.find((x) => x.includes('"type":"tick"'))!);
    assert.equal(tick.total, 400);
    assert.equal(tick.channels.length, 400);
    const detail = JSON.parse(fast.texts.find((x) => x.includes('"type":"channel"'))!);
    assert.equal(detail.name, 'ch-7');
    await third.until(() => third.texts.some((x) => x.includes('"type":"tick"')), 5000, 'filtered tick');
    const filtered = JSON.parse(third.texts.filter((x) => x.includes('"type":"tick"')).at(-1)!);
    assert.deepEqual(
      filtered.channels.map((c: { name: string }) => c.name),
      ['ch-39', 'ch-390', 'ch-391', 'ch-392', 'ch-393', 'ch-394', 'ch-395', 'ch-396', 'ch-397', 'ch-398', 'ch-399'],
    );

    // A client that stops reading: the relay's buffer for it stays near the bound (ticks skipped).
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const tickBytes = fast.texts.find((x) => x.includes('"type":"tick"'))!.length;
    const feed = relay.console.feed;
    const feedConn = () => [...(feed as unknown as { clients: Set<{ conn: { bufferedAmount: number } }> }).clients][1]!.conn;
    let maxBuffered = 0;
    await until(
      () => {
        for (let i = 0; i < 10 && feed.skippedTicks === 0; i++) {
          relay.console.tick();
          maxBuffered = Math.max(maxBuffered, feedConn().bufferedAmount);
        }
        return feed.skippedTicks > 0;
      },
      30_000,
      'a skipped tick',
    );
    // Sends happen only under the bound: at most the bound plus one tick and one detail.
    assert.ok(maxBuffered <= 64 * 1024 + 2 * tickBytes, `buffered ${maxBuffered} bytes`);
    for (let i = 0; i < 20; i++) relay.console.tick();
    assert.ok(feedConn().bufferedAmount <= 64 * 1024 + 2 * tickBytes);
    // Still not reading past behindCloseMs: closed with 4413 (the socket is then cut off).
    feed.options.behindCloseMs = 0;
    relay.console.tick();
    assert.equal(feed.closedTooSlow, 1);
    assert.equal(feed.size, 2);
    // The fast client kept getting every tick.
    const before = fast.texts.length;
    relay.console.tick();
    await fast.until(() => fast.texts.length > before, 5000, 'the next tick');

    // Protocol abuse closes the client, never the relay.
    fast.sendRaw(new Uint8Array([1, 2, 3]));
    assert.equal(await fast.waitClose(), 4400);
    third.sendRaw('x'.repeat(5000));
    assert.equal(await third.waitClose(), 4400);
  });

  it('exports per-channel series for the allowed channels only, up to --metrics-channels', async (t) => {
    const relay = await startTestRelay({ metricsChannels: 2, metricsChannelPatterns: ['game.*', 'cam'] });
    t.after(() => relay.close());
    createChannels(relay, ['game.a', 'other', 'game.b', 'game.c', 'cam']);
    const text = String((await get(relay, '/metrics')).body);
    const series = [...text.matchAll(/^sluice_channel_frames_in_total\{channel="([^"]+)"\}/gm)].map((m) => m[1]);
    assert.deepEqual(series, ['game.a', 'game.b']);
    assert.match(text, /^sluice_metrics_channels_omitted 3$/m);
    for (const name of ['sluice_channel_receivers', 'sluice_channel_bytes_out_total', 'sluice_channel_receivers_behind', 'sluice_channel_queued_bytes_max']) assert.match(text, new RegExp(`^${name}\\{channel="game.a"\\} 0$`, 'm'), name);
    // The default is safe: 100 channels at most.
    const d = await startTestRelay();
    t.after(() => d.close());
    createChannels(
      d,
      Array.from({ length: 150 }, (_, i) => `c${i}`),
    );
    const dt = String((await get(d, '/metrics')).body);
    assert.equal([...dt.matchAll(/^sluice_channel_receivers\{/gm)].length, 100);
    assert.match(dt, /^sluice_metrics_channels_omitted 50$/m);
  });
});
