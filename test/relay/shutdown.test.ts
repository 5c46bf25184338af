import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { TestPeer, spawnRelay, startTestRelay } from '../support/relay-harness.js';

describe('graceful shutdown', () => {
  it('SIGTERM: clients are closed with 1001 and the process exits 0 within the deadline', async (t) => {
    const relay = await spawnRelay(['--shutdown-timeout-ms', '3000']);
    t.after(() => relay.child.kill('SIGKILL'));
    const src = await TestPeer.connect(`${relay.url}/source/bye`);
    const rcv = await TestPeer.connect(`${relay.url}/stream/bye`);
    await rcv.next('welcome');
    const started = Date.now();
    relay.child.kill('SIGTERM');
    const [code] = (await once(relay.child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 3000, 'exited within the deadline');
    assert.equal(await rcv.waitClose(), CloseCode.GoingAway);
    assert.equal(await src.waitClose(), CloseCode.GoingAway);
  });

  it('a second signal exits at once', async (t) => {
    // A client that never completes the close handshake keeps a graceful shutdown waiting.
    const relay = await spawnRelay(['--shutdown-timeout-ms', '20000']);
    t.after(() => relay.child.kill('SIGKILL'));
    const stubborn = await TestPeer.connect(`${relay.url}/stream/stuck`);
    await stubborn.next('welcome');
    stubborn.pauseReading();
    relay.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    relay.child.kill('SIGINT');
    const [code] = (await once(relay.child, 'exit')) as [number];
    assert.ok(Date.now() - started < 1500);
    assert.equal(code, 1);
  });

  it('readiness turns 503 while draining and new connections are refused', async () => {
    const relay = await startTestRelay();
    const url = relay.url;
    const base = url.replace('ws:', 'http:');
    const rcv = await TestPeer.connect(`${url}/stream/d`);
    await rcv.next('welcome');
    // Hold the drain open: the receiver does not read, so it cannot answer the close yet.
    rcv.pauseReading();
    const closing = relay.close(1500);
    assert.equal(relay.isDraining, true);
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const late = await TestPeer.connect(`${url}/stream/d`);
    assert.equal(await late.waitClose(2000), 1006, 'the upgrade is refused (HTTP 503)');
    assert.equal(late.messages('welcome').length, 0);
    rcv.resumeReading();
    await closing;
    assert.equal(await rcv.waitClose(), CloseCode.GoingAway);
  });

  it('a peer whose reading is paused by the inbound rate limit does not hold a graceful shutdown until its deadline', async () => {
    const relay = await startTestRelay({ maxFramesPerSecond: 5 });
    const src = await TestPeer.connect(`${relay.url}/source/flood`);
    await src.next('welcome');
    // Past 5 frames this second the relay stops reading the socket (push-back) until the second ends.
    for (let i = 0; i < 40; i++) src.send({ kind: 'signal-diff', diff: { n: i } });
    const rcv = await TestPeer.connect(`${relay.url}/stream/flood`);
    await rcv.until(() => typeof rcv.state.n === 'number', 10_000, 'first frames through');
    const started = Date.now();
    await relay.close(8000);
    assert.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms: the close handshake waited for the deadline`);
    assert.equal(await src.waitClose(), CloseCode.GoingAway);
  });
});
