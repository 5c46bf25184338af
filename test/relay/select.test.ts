import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HEADER_SIZE } from '../../src/protocol/header.js';
import type { Relay } from '../../src/relay/server.js';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

const payloadText = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(HEADER_SIZE));

describe('select at the relay', () => {
  let relay: Relay;
  before(async () => {
    relay = await startTestRelay();
  });
  after(() => relay.close());

  it('unselected fields never reach the wire; untouched diffs are not sent; nested paths work', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/sel`);
    src.send({ kind: 'signal-sync', state: { count: 1, secret: 'TOPSECRET', player: { pos: { x: 1, y: 2 }, name: 'HIDDENNAME' } } });
    const rcv = await TestPeer.connect(`${relay.url}/stream/sel?select=count,player.pos`);
    const all = await TestPeer.connect(`${relay.url}/stream/sel`);
    await rcv.next('signal-sync');
    await all.next('signal-sync');
    src.send({ kind: 'signal-diff', diff: { secret: 'TOPSECRET2' } }); // touches nothing selected
    src.send({ kind: 'signal-diff', diff: { player: { name: 'HIDDENNAME2' } } }); // nested, unselected
    src.send({ kind: 'signal-diff', diff: { count: 2, secret: 'TOPSECRET3' } });
    src.send({ kind: 'signal-diff', diff: { player: { pos: { x: 9 }, name: 'HIDDENNAME3' } } });
    await all.until(() => all.messages('signal-diff').length === 4, 2000, 'unfiltered receiver gets every diff');
    await rcv.until(() => rcv.messages('signal-diff').length === 2, 2000, 'filtered receiver gets 2 diffs');
    await sleep(100);
    assert.equal(rcv.messages('signal-diff').length, 2, 'diffs touching no selected field are not sent');
    const wire = rcv.received.map((r) => payloadText(r.bytes)).join('\n');
    assert.ok(!wire.includes('SECRET') && !wire.includes('HIDDEN'), `unselected data on the wire: ${wire}`);
    assert.deepEqual(rcv.state, { count: 2, player: { pos: { x: 9, y: 2 } } });
    assert.deepEqual(all.state, { count: 2, secret: 'TOPSECRET3', player: { pos: { x: 9, y: 2 }, name: 'HIDDENNAME3' } });
    src.close();
    rcv.close();
    all.close();
  });

  it('a SubscribeFilter frame replaces the filter and brings a fresh projected sync', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/sel2`);
    src.send({ kind: 'signal-sync', state: { a: 1, b: 2, c: 3 } });
    const rcv = await TestPeer.connect(`${relay.url}/stream/sel2?select=a`);
    const first = await rcv.next('signal-sync');
    assert.deepEqual(first.state, { a: 1 });
    rcv.send({ kind: 'subscribe-filter', select: ['b', 'c'] });
    const second = await rcv.next('signal-sync');
    assert.deepEqual(second.state, { b: 2, c: 3 });
    src.send({ kind: 'signal-diff', diff: { a: 10 } });
    src.send({ kind: 'signal-diff', diff: { b: 20 } });
    const d = await rcv.next('signal-diff');
    assert.deepEqual(d.diff, { b: 20 });
    rcv.send({ kind: 'subscribe-filter', select: null });
    const third = await rcv.next('signal-sync');
    assert.deepEqual(third.state, { a: 10, b: 20, c: 3 });
    src.close();
    rcv.close();
  });

  it('encodes each (frame, filter) once and shares the bytes among receivers with that filter', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/share`);
    src.send({ kind: 'signal-sync', state: { a: 0, b: 0 } });
    const rs = await Promise.all([1, 2, 3].map(() => TestPeer.connect(`${relay.url}/stream/share?select=a`)));
    await Promise.all(rs.map((r) => r.next('signal-sync')));
    const ch = relay.channels.get('share')!;
    // Observe what is queued: every member of the group references the same framed bytes.
    const seen: Uint8Array[] = [];
    for (const r of ch.receivers.values()) {
      const orig = r.enqueueShared.bind(r);
      r.enqueueShared = (batch, index) => {
        seen.push(batch.framed[index]!);
        orig(batch, index);
      };
    }
    src.send({ kind: 'signal-diff', diff: { a: 1, b: 1 } });
    await Promise.all(rs.map((r) => r.next('signal-diff')));
    assert.equal(seen.length, 3);
    assert.ok(seen.every((f) => f === seen[0]), 'one encoded, framed buffer shared by the group');
    src.close();
    for (const r of rs) r.close();
  });
});
