import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

describe('channel lifecycle', () => {
  it('tells receivers the source went offline and keeps state through a reconnect within the grace', async (t) => {
    const relay = await startTestRelay({ graceMs: 5_000 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/life`);
    src.send({ kind: 'signal-sync', state: { count: 41 } });
    const rcv = await TestPeer.connect(`${relay.url}/stream/life`);
    const online = await rcv.next('source-status');
    assert.equal(online.status.online, true);
    await rcv.until(() => rcv.state.count === 41);
    src.close();
    const offline = await rcv.next('source-status');
    assert.equal(offline.status.online, false);
    // A receiver joining while the source is away still gets the state, and hears it is offline.
    const late = await TestPeer.connect(`${relay.url}/stream/life`);
    const lateStatus = await late.next('source-status');
    assert.equal(lateStatus.status.online, false);
    await late.until(() => late.state.count === 41);
    // The source returns within the grace and simply continues with a diff.
    const back = await TestPeer.connect(`${relay.url}/source/life`);
    back.send({ kind: 'signal-diff', diff: { count: 42 } });
    assert.equal((await rcv.next('source-status')).status.online, true);
    await rcv.until(() => rcv.state.count === 42);
    await late.until(() => late.state.count === 42);
    assert.equal(rcv.closeCode, undefined, 'receivers stay connected across the source reconnect');
  });

  it('garbage-collects channels with no source, no receivers and an expired grace', async (t) => {
    const relay = await startTestRelay({ graceMs: 200, gcIntervalMs: 50 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/gc`);
    src.send({ kind: 'signal-sync', state: { v: 1 } });
    const rcv = await TestPeer.connect(`${relay.url}/stream/gc`);
    await rcv.until(() => rcv.state.v === 1);
    const keep = await TestPeer.connect(`${relay.url}/stream/kept`);
    await keep.next('welcome');
    src.close();
    await sleep(400);
    assert.ok(relay.channels.has('gc'), 'a receiver keeps the channel alive');
    rcv.close();
    await rcv.closed;
    await sleep(400);
    assert.ok(!relay.channels.has('gc'), 'idle channel collected');
    assert.ok(relay.channels.has('kept'), 'a channel with a receiver is kept');
    assert.ok(relay.totals.channelsCollected >= 1);
    // A new source on the same name starts fresh.
    const again = await TestPeer.connect(`${relay.url}/stream/gc`);
    await again.next('welcome');
    await sleep(50);
    assert.equal(again.messages('signal-sync').length, 0);
  });

  it('does not collect a channel during the grace period', async (t) => {
    const relay = await startTestRelay({ graceMs: 60_000, gcIntervalMs: 20 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/grace`);
    src.send({ kind: 'signal-sync', state: { v: 7 } });
    await src.next('welcome');
    await sleep(50);
    src.close();
    await src.closed;
    await sleep(200);
    assert.ok(relay.channels.has('grace'));
    assert.equal(relay.collectGarbage(Date.now() + 61_000), 1, 'collected once the grace has run out');
  });
});
