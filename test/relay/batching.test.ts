import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

describe('batching', () => {
  it('a receiver with ?batch=1 gets a burst as few Batch messages, in order; others get one message per frame', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/b`);
    src.send({ kind: 'signal-sync', state: { n: 0 } });
    const batched = await TestPeer.connect(`${relay.url}/stream/b?batch=1`);
    const plain = await TestPeer.connect(`${relay.url}/stream/b`);
    await batched.until(() => batched.state.n === 0);
    await plain.until(() => plain.state.n === 0);
    const before = { b: batched.wsMessages, p: plain.wsMessages };
    // 200 diffs in one write: the relay reads them in one turn.
    const tcp = (src.ws as unknown as { _socket: Socket })._socket;
    tcp.cork();
    for (let i = 0; i < 200; i++) src.send({ kind: 'signal-diff', diff: { n: i + 1 } });
    tcp.uncork();
    await batched.until(() => batched.state.n === 200);
    await plain.until(() => plain.state.n === 200);
    const diffs = (p: TestPeer) => p.messages('signal-diff').map((m) => (m.kind === 'signal-diff' ? m.diff.n : 0));
    assert.deepEqual(diffs(batched), Array.from({ length: 200 }, (_, i) => i + 1), 'every diff, in order');
    assert.deepEqual(diffs(plain), diffs(batched));
    assert.ok(batched.batches > 0, 'Batch messages were used');
    assert.ok(batched.wsMessages - before.b < 50, `batched receiver got ${batched.wsMessages - before.b} WebSocket messages for 200 diffs`);
    assert.equal(plain.wsMessages - before.p, 200, 'a receiver that did not ask gets one message per frame');
  });

  it('peers may not send Batch frames to the relay', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/nb`);
    src.send({ kind: 'batch', frames: [encodeMessage({ kind: 'signal-diff', diff: { a: 1 } })] });
    assert.equal(await src.waitClose(), CloseCode.BadFrame);
    await sleep(10);
  });
});
