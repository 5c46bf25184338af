import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { Flag, FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import type { Relay } from '../../src/relay/server.js';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

describe('inputs and roles', () => {
  let relay: Relay;
  before(async () => {
    relay = await startTestRelay();
  });
  after(() => relay.close());

  it('a receiver input reaches only the source, tagged with the sender id', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/in`);
    const a = await TestPeer.connect(`${relay.url}/stream/in`);
    const b = await TestPeer.connect(`${relay.url}/stream/in`);
    const aId = (await a.next('welcome')).welcome.id;
    await b.next('welcome');
    a.send({ kind: 'input', event: { input: 'pointer', x: 5, y: 6, buttons: 1, phase: 1 } });
    a.send({ kind: 'input', event: { input: 'action', action: { type: 'inc', by: 2 } } });
    const first = await src.next('input');
    const second = await src.next('input');
    assert.equal(first.sender, aId);
    assert.deepEqual(first.event, { input: 'pointer', x: 5, y: 6, buttons: 1, phase: 1 });
    assert.equal(second.sender, aId);
    assert.deepEqual(second.event, { input: 'action', action: { type: 'inc', by: 2 } });
    await sleep(100);
    assert.equal(b.messages('input').length, 0, 'other receivers never see inputs');
    assert.equal(a.messages('input').length, 0, 'the sender does not get its input back');
    src.close();
    a.close();
    b.close();
  });

  it('routes RPC calls to the source and results back to the caller only', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/rpc`);
    const a = await TestPeer.connect(`${relay.url}/stream/rpc`);
    const b = await TestPeer.connect(`${relay.url}/stream/rpc`);
    a.send({ kind: 'rpc-call', call: { id: 1, method: 'add', params: [2, 3] } });
    const call = await src.next('rpc-call');
    assert.deepEqual(call.call, { id: 1, method: 'add', params: [2, 3] });
    src.send({ kind: 'rpc-result', sender: call.sender!, result: { id: 1, result: 5 } });
    const res = await a.next('rpc-result');
    assert.deepEqual(res.result, { id: 1, result: 5 });
    assert.equal(res.sender, undefined, 'the routing prefix is stripped');
    await sleep(100);
    assert.equal(b.messages('rpc-result').length, 0);
    src.close();
    a.close();
    b.close();
  });

  it('an input with no source connected comes back as an Error frame (not silently dropped)', async () => {
    const a = await TestPeer.connect(`${relay.url}/stream/nosrc`);
    a.send({ kind: 'input', event: { input: 'text', text: 'hello?' } });
    const err = await a.next('error');
    assert.equal(err.error.code, CloseCode.NotFound);
    assert.equal(a.closeCode, undefined, 'not a fatal error');
    a.close();
  });

  it('wrong-role frames close with 4400 and nothing they carried is forwarded', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/roles`);
    src.send({ kind: 'signal-sync', state: { n: 1 } });
    const honest = await TestPeer.connect(`${relay.url}/stream/roles`);
    await honest.next('signal-sync');

    // A receiver publishing state.
    const rogue = await TestPeer.connect(`${relay.url}/stream/roles`);
    rogue.send({ kind: 'signal-diff', diff: { n: 666 } });
    assert.equal(await rogue.waitClose(), CloseCode.BadFrame);
    // A receiver forging a sender tag.
    const forger = await TestPeer.connect(`${relay.url}/stream/roles`);
    forger.send({ kind: 'input', sender: 1, event: { input: 'text', text: 'spoof' } });
    assert.equal(await forger.waitClose(), CloseCode.BadFrame);
    // A source sending an input.
    const src2 = await TestPeer.connect(`${relay.url}/source/roles2`);
    src2.send({ kind: 'input', event: { input: 'text', text: 'x' } });
    assert.equal(await src2.waitClose(), CloseCode.BadFrame);
    // A source sending SubscribeFilter.
    const src3 = await TestPeer.connect(`${relay.url}/source/roles3`);
    src3.send({ kind: 'subscribe-filter', select: ['a'] });
    assert.equal(await src3.waitClose(), CloseCode.BadFrame);
    // Text frames on a binary path.
    const texter = await TestPeer.connect(`${relay.url}/stream/roles`);
    texter.sendRaw('{"count": 5}');
    assert.equal(await texter.waitClose(), CloseCode.BadFrame);

    await sleep(100);
    assert.deepEqual(honest.state, { n: 1 });
    assert.equal(honest.messages('signal-diff').length, 0);
    assert.equal(src.messages('input').length, 0);
    assert.equal(src.closeCode, undefined, 'the real source is untouched');
    src.close();
    honest.close();
  });

  it('malformed frames close with 4400 and an Error frame naming the problem', async () => {
    const p = await TestPeer.connect(`${relay.url}/stream/bad`);
    await p.next('welcome');
    p.sendRaw(encodeFrame({ type: FrameType.SubscribeFilter }, new TextEncoder().encode('{not json')));
    assert.equal(await p.waitClose(), CloseCode.BadFrame);
    const err = p.messages('error')[0];
    assert.ok(err?.kind === 'error' && /JSON/.test(err.error.message));
    const q = await TestPeer.connect(`${relay.url}/source/bad`);
    q.sendRaw(encodeFrame({ type: FrameType.Pixels, flags: Flag.Keyframe, width: 2, height: 2 }, new Uint8Array(3)));
    assert.equal(await q.waitClose(), CloseCode.BadFrame);
  });
});
