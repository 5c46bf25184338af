import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeltaEncoder } from '../../src/protocol/delta-codec.js';
import type { Relay } from '../../src/relay/server.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';

describe('merged catch-up', () => {
  let relay: Relay;
  before(async () => {
    relay = await startTestRelay({ maxFramesPerSecond: 1_000_000 });
  });
  after(() => relay.close());

  it('a late joiner after 10,000 diffs gets exactly ONE sync equal to the source state', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/late`);
    src.send({ kind: 'schema-announce', schema: { signals: ['count', 'doubled', 'items'], mode: 'signal' } });
    let state: Record<string, unknown> = { count: 0, doubled: 0, items: {} };
    src.send({ kind: 'signal-sync', state: state as never });
    for (let i = 1; i <= 10_000; i++) {
      const diff: Record<string, unknown> = { count: i, doubled: i * 2 };
      if (i % 100 === 0) diff.items = { [`k${i}`]: i };
      if (i % 1000 === 0) diff.doubled = null; // deletions are merged too
      src.send({ kind: 'signal-diff', diff: diff as never });
      state = { ...state, ...diff, items: { ...(state.items as object), ...((diff.items as object) ?? {}) } };
      if (diff.doubled === null) delete state.doubled;
    }
    // Let the relay process everything: a receiver that joins after the last diff.
    const probe = await TestPeer.connect(`${relay.url}/stream/late`);
    await probe.until(() => probe.state.count === 10_000, 10_000, 'probe converges');
    probe.close();

    const late = await TestPeer.connect(`${relay.url}/stream/late`);
    await late.next('signal-sync');
    await new Promise((r) => setTimeout(r, 200));
    const kinds = late.messages().map((m) => m.kind);
    assert.deepEqual(kinds, ['welcome', 'source-status', 'schema-announce', 'signal-sync'], 'one sync, no replayed diffs');
    assert.deepEqual(late.messages('signal-sync')[0], { ...late.messages('signal-sync')[0], state });
    assert.equal(relay.channels.get('late')!.cache.version, 10_001);
    src.close();
    late.close();
  });

  it('a late joiner on a pixel channel gets a keyframe of the current picture', async () => {
    const W = 16;
    const H = 8;
    const src = await TestPeer.connect(`${relay.url}/source/pix`);
    const enc = new DeltaEncoder();
    let frame = new Uint8Array(W * H * 4);
    for (let i = 0; i < 30; i++) {
      frame = frame.slice();
      frame[(i * 37) % frame.length] = (i * 13 + 1) & 0xff;
      const { keyframe, data } = enc.encode(frame);
      if (keyframe) src.send({ kind: 'pixels', width: W, height: H, data, flags: 0x02 });
      else src.send({ kind: 'delta-pixels', width: W, height: H, data });
    }
    const probe = await TestPeer.connect(`${relay.url}/stream/pix`);
    await probe.next('keyframe');
    const kf = probe.messages('keyframe')[0]!;
    assert.equal(kf.kind, 'keyframe');
    if (kf.kind === 'keyframe') {
      assert.equal(kf.width, W);
      assert.equal(kf.height, H);
      assert.deepEqual(Array.from(kf.data), Array.from(frame));
    }
    assert.equal(probe.messages('delta-pixels').length, 0);
    src.close();
    probe.close();
  });

  it('a reconnecting source re-sending its full sync reaches receivers as a minimal diff', async () => {
    const src = await TestPeer.connect(`${relay.url}/source/resync`);
    src.send({ kind: 'signal-sync', state: { a: 1, b: { c: 2 }, big: 'x'.repeat(1000) } });
    const rcv = await TestPeer.connect(`${relay.url}/stream/resync`);
    await rcv.until(() => rcv.state.a === 1);
    src.close();
    await rcv.until(() => rcv.messages('source-status').some((m) => m.kind === 'source-status' && !m.status.online), 2000, 'offline status');
    const src2 = await TestPeer.connect(`${relay.url}/source/resync`);
    src2.send({ kind: 'signal-sync', state: { a: 2, b: { c: 2 }, big: 'x'.repeat(1000) } });
    const d = await rcv.next('signal-diff');
    assert.deepEqual(d.diff, { a: 2 });
    src2.close();
    rcv.close();
  });
});
