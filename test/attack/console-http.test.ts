// Attacks on the console's JSON API: pagination extremes, hostile names and percent-encoding,
// huge query strings, hostile states (__proto__, deep nesting, huge strings), 10,000 channels
// against /metrics, and requests while the relay shuts down.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const base = (relay: TestRelay) => relay.url.replace('ws:', 'http:');
async function get(relay: TestRelay, path: string, init: RequestInit = {}) {
  const res = await fetch(base(relay) + path, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, text, headers: res.headers };
}

/** A raw HTTP GET whose path is sent exactly as given (fetch would normalize it). */
function rawGet(relay: TestRelay, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: relay.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function createChannels(relay: TestRelay, names: string[]): void {
  for (const n of names) assert.ok(relay.table.admit(n, 'receiver').ok, n);
}

describe('attack: console HTTP API', () => {
  it('pagination extremes are 400 or an empty page, never a crash', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, Array.from({ length: 25 }, (_, i) => `p-${String(i).padStart(2, '0')}`));
    for (const bad of ['offset=-1', 'limit=-5', 'offset=NaN', 'limit=NaN', 'offset=1e309', 'limit=1e309', 'offset=Infinity', 'offset=0x10', 'offset=1.5', 'offset=%20', 'offset=+1', 'offset=99999999999999999', 'limit=', 'offset=1&offset=-1']) {
      const r = await get(relay, `/api/channels?${bad}`);
      assert.ok(r.status === 400 || r.status === 200, `${bad}: ${r.status}`);
      if (r.status === 200) assert.ok(Array.isArray(r.body.channels), bad);
    }
    const huge = await get(relay, `/api/channels?offset=${Number.MAX_SAFE_INTEGER}`);
    assert.equal(huge.status, 200);
    assert.deepEqual(huge.body.channels, []);
    assert.equal(huge.body.next, null);
    // Following `next` from the start visits every channel once and ends.
    const seen: string[] = [];
    let offset: number | null = 0;
    for (let pages = 0; offset !== null; pages++) {
      assert.ok(pages < 10, 'pagination does not end');
      const r = await get(relay, `/api/channels?offset=${offset}&limit=7`);
      seen.push(...(r.body.channels as Array<{ name: string }>).map((c) => c.name));
      offset = r.body.next as number | null;
    }
    assert.equal(seen.length, 25);
  });

  // FINDING (low): limit=0 is accepted and answers `next` equal to `offset`, so a script that
  // follows `next` until it is null loops forever.
  it('limit=0 does not return a `next` that never advances', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, ['a', 'b']);
    const r = await get(relay, '/api/channels?offset=0&limit=0');
    assert.ok(r.status === 400 || r.body.next === null || (r.body.next as number) > 0, `limit=0 answered ${r.status} with next=${String(r.body.next)}`);
  });

  it('hostile names, percent-encoding, dot segments and a huge query string', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const names = ['<img src=x onerror=alert(1)>', '"quoted"\\', 'a/b', '%2e%2e', 'ünï©ødé-🚀', '__proto__', 'constructor', 'x'.repeat(128)];
    createChannels(relay, names);
    for (const n of names) {
      const r = await get(relay, `/api/channels/${encodeURIComponent(n)}`);
      assert.equal(r.status, 200, n);
      assert.equal(r.body.name, n);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    }
    // Double encoding is decoded once: %252e%252e is the channel named "%2e%2e".
    assert.equal((await get(relay, '/api/channels/%252e%252e')).body.name, '%2e%2e');
    // A name that is a prototype property of a plain object is not "found" unless it exists.
    for (const n of ['toString', 'hasOwnProperty', '__defineGetter__']) assert.equal((await get(relay, `/api/channels/${n}`)).status, 404, n);
    // Raw dot segments and encoded slashes cannot reach anything but the console's own routes.
    for (const p of ['/api/channels/../stats', '/api/channels/%2e%2e/%2e%2e/metrics', '/api/channels/..%2f..%2fapi%2fstats', '/api/channels/%2e%2e', '/api/channels//', '/api/channels/a%00b', '/api/channels/%ZZ', '/api/channels/%']) {
      const r = await rawGet(relay, p);
      assert.ok([200, 400, 404].includes(r.status), `${p}: ${r.status}`);
      assert.ok(!r.body.includes('# HELP'), `${p} reached /metrics`);
    }
    // A 12 KB query string (under Node's header limit) and a 100 KB one (over it).
    const long = await get(relay, `/api/channels?q=${'y'.repeat(12_000)}`);
    assert.equal(long.status, 400);
    const tooLong = await rawGet(relay, `/api/channels?q=${'y'.repeat(100_000)}`).catch(() => ({ status: 431, body: '' }));
    assert.ok(tooLong.status === 431 || tooLong.status === 400 || tooLong.status === 414, `100 KB query: ${tooLong.status}`);
    // Methods other than GET/HEAD.
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.equal((await get(relay, '/api/channels', { method })).status, 405, method);
    const head = await fetch(`${base(relay)}/api/relay`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const r = await get(relay, '/api/relay');
    assert.equal(r.status, 200);
    assert.equal(relay.totals.internalErrors, 0);
  });

  it('a hostile state (__proto__, constructor, deep nesting, huge strings, many fields) is shown as data, bounded', { timeout: 20_000 }, async (t) => {
    const relay = await startTestRelay({ maxJsonPayload: 4 * 1024 * 1024 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/evil`);
    t.after(() => src.close());
    await src.next('welcome');
    let deep: unknown = 'bottom';
    for (let i = 0; i < 60; i++) deep = { d: deep };
    const raw = `{"__proto__":{"polluted":true,"admin":true},"constructor":{"prototype":{"polluted":true}},"deep":${JSON.stringify(deep)},"html":"<script>alert(1)</script>","big":"${'z'.repeat(1_000_000)}","after":1}`;
    src.sendRaw(rawSync(raw));
    await until(() => relay.channels.get('evil')?.cache.hasState === true, 5000, 'the state');
    const r = await get(relay, '/api/channels/evil');
    assert.equal(r.status, 200);
    assert.ok(r.text.length < 100 * 1024, `detail is ${r.text.length} bytes`);
    const state = r.body.state as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(state, '__proto__'), '__proto__ kept as an own field');
    assert.deepEqual(JSON.parse(r.text).state.__proto__, { polluted: true, admin: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution in the relay process');
    assert.equal(state.html, '<script>alert(1)</script>');
    assert.equal(r.body.stateTruncated, true, 'the 1 MB string is left out');
    assert.ok(!('big' in state));
    // Many fields: at most 500 listed.
    const many: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) many[`f${i}`] = i;
    src.send({ kind: 'signal-sync', state: many });
    await until(() => Object.keys(relay.channels.get('evil')!.cache.state).length === 5000, 5000, 'the wide state');
    // The detail is cached within a tick; the next tick recomputes it.
    relay.console.tick();
    const w = await get(relay, '/api/channels/evil');
    assert.equal((w.body.fieldList as unknown[]).length, 500);
    assert.equal(w.body.stateTruncated, true);
  });

  it('10,000 channels: /metrics stays bounded, /api/channels pages are capped, the feed tick is truncated', { timeout: 30_000 }, async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, Array.from({ length: 10_000 }, (_, i) => `c-${'q'.repeat(100)}-${i}`));
    const m = await get(relay, '/metrics');
    assert.equal(m.status, 200);
    const series = [...m.text.matchAll(/^sluice_channel_\w+\{channel=/gm)].length;
    assert.equal(series, 700, 'seven per-channel series for 100 channels');
    assert.match(m.text, /^sluice_metrics_channels_omitted 9900$/m);
    assert.ok(m.text.length < 200_000, `/metrics is ${m.text.length} bytes`);
    const page = await get(relay, '/api/channels?limit=100000');
    assert.equal((page.body.channels as unknown[]).length, 1000);
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    t.after(() => f.close());
    await until(() => relay.console.feed.size === 1, 5000, 'the feed');
    relay.console.tick();
    await f.until(() => f.texts.length > 0, 10_000, 'a tick');
    const tick = JSON.parse(f.texts[0]!) as { total: number; channels: unknown[]; truncated: boolean };
    assert.equal(tick.total, 10_000);
    assert.equal(tick.channels.length, 2000);
    assert.equal(tick.truncated, true);
  });

  it('channel names with Prometheus-hostile characters are escaped in /metrics', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    createChannels(relay, ['q"uote', 'back\\slash', 'new\nline']);
    const m = await get(relay, '/metrics');
    assert.ok(m.text.includes('channel="q\\"uote"'));
    assert.ok(m.text.includes('channel="back\\\\slash"'));
    assert.ok(m.text.includes('channel="new\\nline"'));
    for (const line of m.text.split('\n')) if (line.startsWith('sluice_channel_')) assert.match(line, /^sluice_channel_\w+\{channel="(?:[^"\\]|\\.)*"\} \S+$/, line);
  });

  it('requests during shutdown: API answers or refuses cleanly, the feed is closed 1001, new feeds refused', { timeout: 20_000 }, async (t) => {
    const relay = await startTestRelay({ shutdownTimeoutMs: 3000 });
    createChannels(relay, ['s1', 's2']);
    const f = await TestPeer.connect(`${relay.url}/api/feed`);
    // A receiver that ignores the close keeps the relay draining for a while.
    const stubborn = await TestPeer.connect(`${relay.url}/stream/s1`);
    stubborn.pauseReading();
    const closing = relay.close(1500);
    t.after(() => closing);
    assert.equal(await f.waitClose(), 1001);
    const during = await Promise.all(['/api/relay', '/api/channels', '/api/channels/s1', '/console', '/metrics', '/readyz'].map((p) => get(relay, p).then((r) => [p, r.status, r.body] as const).catch(() => [p, 0, {}] as const)));
    for (const [p, s] of during) assert.ok([0, 200, 503].includes(s), `${p}: ${s} during shutdown`);
    const relayInfo = during.find(([p]) => p === '/api/relay')!;
    if (relayInfo[1] === 200) assert.equal((relayInfo[2] as { draining?: boolean }).draining, true);
    const late = await TestPeer.connect(`${relay.url}/api/feed`).catch(() => undefined);
    if (late) assert.notEqual(await late.waitClose().catch(() => 1006), undefined);
    stubborn.ws.terminate();
    await closing;
  });
});

/** A SignalSync frame carrying `json` exactly as written (so `__proto__` stays a key on the wire). */
function rawSync(json: string): Uint8Array {
  return encodeFrame({ type: FrameType.SignalSync, seq: 1, timestamp: 0 }, new TextEncoder().encode(json));
}
