import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import type { Relay } from '../../src/relay/server.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';

describe('relay routing', () => {
  let relay: Relay;
  before(async () => {
    relay = await startTestRelay();
  });
  after(() => relay.close());

  it('answers /healthz, /readyz, /api/stats and /metrics', async () => {
    const base = relay.url.replace('ws:', 'http:');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const stats = (await (await fetch(`${base}/api/stats`)).json()) as { engine: string; channels: unknown[] };
    assert.equal(stats.engine, 'memory');
    assert.ok(Array.isArray(stats.channels));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /# TYPE sluice_frames_in_total counter/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  for (const [path, role, channel] of [
    ['/source/r1', 'source', 'r1'],
    ['/peer/r2', 'source', 'r2'],
    ['/stream/r3', 'receiver', 'r3'],
    ['/signal/r4', 'signal', 'r4'],
    ['/source', 'source', 'default'],
    ['/stream', 'receiver', 'default'],
    ['/signal', 'signal', 'default'],
    ['/stream/process:build-1', 'receiver', 'process:build-1'],
  ] as const) {
    it(`${path} connects as ${role} on channel ${channel}`, async () => {
      const p = await TestPeer.connect(relay.url + path);
      if (role !== 'signal') {
        const w = await p.next('welcome');
        assert.equal(w.welcome.role, role);
        assert.equal(w.welcome.channel, channel);
      }
      assert.ok(relay.channels.has(channel));
      p.close();
      await p.closed;
    });
  }

  it('a source on /peer/x is received on /stream/x', async () => {
    const src = await TestPeer.connect(`${relay.url}/peer/alias`);
    const rcv = await TestPeer.connect(`${relay.url}/stream/alias`);
    await rcv.next('welcome');
    src.send({ kind: 'signal-sync', state: { count: 3 } });
    await rcv.until(() => rcv.state.count === 3, 2000, 'state');
    src.close();
    rcv.close();
  });

  it('refuses unknown paths with 4404 and bad channel names with 4400', async () => {
    for (const [path, code] of [
      ['/nope', CloseCode.NotFound],
      ['/stream/a/b', CloseCode.NotFound],
      ['/stream/bad%20name', CloseCode.BadFrame],
      [`/stream/${'x'.repeat(129)}`, CloseCode.BadFrame],
      ['/stream/x?select=a..b', CloseCode.BadFrame],
    ] as const) {
      const p = await TestPeer.connect(relay.url + path);
      assert.equal(await p.waitClose(), code, path);
      const err = p.messages('error')[0];
      assert.ok(err && err.kind === 'error' && err.error.code === code, `${path} sends an Error frame first`);
    }
  });

  it('answers a client Ping frame at once with a Pong echoing seq and timestamp', async () => {
    const p = await TestPeer.connect(`${relay.url}/stream/pinger`);
    p.send({ kind: 'ping', seq: 4242, timestamp: 123456 });
    const pong = await p.next('pong');
    assert.equal(pong.seq, 4242);
    assert.equal(pong.timestamp, 123456);
    p.close();
  });

  it('relays signaling text among the peers of one channel only, not back to the sender', async () => {
    const a = await TestPeer.connect(`${relay.url}/signal/rtc`);
    const b = await TestPeer.connect(`${relay.url}/signal/rtc`);
    const other = await TestPeer.connect(`${relay.url}/signal/elsewhere`);
    a.sendRaw(JSON.stringify({ sdp: 'offer' }));
    await b.until(() => b.texts.length === 1, 2000, 'signal text');
    assert.deepEqual(JSON.parse(b.texts[0]!), { sdp: 'offer' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.texts.length, 0);
    assert.equal(other.texts.length, 0);
    a.sendRaw(new Uint8Array([1, 2, 3]));
    assert.equal(await a.waitClose(), CloseCode.BadFrame);
    b.close();
    other.close();
  });
});
