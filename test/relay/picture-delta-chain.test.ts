// Invariant: once a pixel source stops and the stream settles, every receiver's picture equals the
// source's last frame byte for byte — batching (`?batch=1`, the SDK's default) or not, whatever
// lands in the same relay tick. Regression: the relay's current picture was a `.slice()` of the
// received frame; on the ws transport that frame is a Node Buffer, whose slice() is a view, so
// applying the next delta to the picture also changed the keyframe still queued in the shared
// batch — batching receivers got it with later deltas already in, applied them again, and kept a
// wrong picture until the next keyframe.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { applyDeltaInPlace, encodeDelta } from '../../src/protocol/delta-codec.js';
import { Flag } from '../../src/protocol/frame-codes.js';
import { encodeMessage } from '../../src/protocol/message.js';
import type { Relay } from '../../src/relay/server.js';
import { StateCache } from '../../src/relay/state-cache.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';

const W = 32;
const H = 24;

/** A deterministic picture for step `t`: a background that changes every step and a moving square. */
function picture(t: number): Uint8Array {
  const p = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = 4 * (y * W + x);
      const inSquare = x >= t % (W - 6) && x < (t % (W - 6)) + 6 && y >= 8 && y < 14;
      p[i] = inSquare ? 250 : (t * 7) & 255;
      p[i + 1] = inSquare ? 230 : 40;
      p[i + 2] = (x * 3 + t) & 255;
      p[i + 3] = 255;
    }
  return p;
}

/** What a receiver shows after applying every picture frame it got, in order. */
function replay(peer: TestPeer): Uint8Array | undefined {
  let pic: Uint8Array | undefined;
  for (const m of peer.messages()) {
    if ((m.kind === 'keyframe' || m.kind === 'pixels') && m.data.length > 0) pic = new Uint8Array(m.data);
    else if (m.kind === 'delta-pixels' && pic) applyDeltaInPlace(pic, m.data);
  }
  return pic;
}

describe('picture delta chain through the relay', () => {
  let relay: Relay;
  before(async () => {
    relay = await startTestRelay({ maxFramesPerSecond: 1_000_000 });
  });
  after(() => relay.close());

  it('the cache keeps its own copy of a picture given as a Node Buffer', () => {
    const cache = new StateCache(10, 1 << 20);
    const frame = Buffer.from(picture(1));
    cache.setPicture(W, H, frame);
    const before = Buffer.from(frame);
    assert.ok(cache.applyPictureDelta(W, H, encodeDelta(picture(1), picture(2))));
    assert.ok(frame.equals(before), 'applying a delta to the current picture changed the frame it came from');
  });

  it('keyframes followed by deltas in the same tick reach batching and plain receivers exactly', { timeout: 30_000 }, async () => {
    const ch = 'delta-chain-node';
    const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
    await src.next('welcome');
    const batching = await TestPeer.connect(`${relay.url}/stream/${ch}?batch=1`);
    const plain = await TestPeer.connect(`${relay.url}/stream/${ch}`);
    await batching.next('welcome');
    await plain.next('welcome');
    const tcp = (src.ws as unknown as { _socket: Socket })._socket;
    let t = 0;
    let prev = picture(0);
    // Bursts of one keyframe and several deltas, written at once so the relay reads them in one
    // turn: the keyframe and the deltas after it share one tick's batch.
    for (let burst = 0; burst < 20; burst++) {
      tcp.cork();
      for (let k = 0; k < 6; k++) {
        const cur = picture(++t);
        const keyframe = k === 0;
        src.send(
          keyframe
            ? { kind: 'pixels', width: W, height: H, data: cur, flags: Flag.Keyframe, seq: t }
            : { kind: 'delta-pixels', width: W, height: H, data: encodeDelta(prev, cur), seq: t },
        );
        prev = cur;
      }
      tcp.uncork();
    }
    // The stream settles: a last empty delta (no change) marks the end.
    src.sendRaw(encodeMessage({ kind: 'delta-pixels', width: W, height: H, data: encodeDelta(prev, prev), seq: ++t }));
    const done = (p: TestPeer) => p.messages('delta-pixels').some((m) => m.seq === t);
    await batching.until(() => done(batching), 10_000, 'the batching receiver gets the last frame');
    await plain.until(() => done(plain), 10_000, 'the plain receiver gets the last frame');
    assert.ok(batching.batches > 0, 'the batching receiver got no Batch message: the test did not exercise batching');
    const want = Buffer.from(prev);
    assert.ok(want.equals(replay(plain) ?? new Uint8Array(0)), 'plain receiver ends on another picture');
    assert.ok(want.equals(replay(batching) ?? new Uint8Array(0)), 'batching receiver ends on another picture');
    src.close();
    batching.close();
    plain.close();
  });

  it("a late joiner's catch-up keyframe carries the timestamp of the source frame the picture last changed with", { timeout: 10_000 }, async () => {
    const ch = 'delta-chain-timestamp';
    const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
    await src.next('welcome');
    // A receiver already there tells when the relay has both frames.
    const early = await TestPeer.connect(`${relay.url}/stream/${ch}`);
    await early.next('welcome');
    src.send({ kind: 'pixels', width: W, height: H, data: picture(1), flags: Flag.Keyframe, seq: 1, timestamp: 1000 });
    src.send({ kind: 'delta-pixels', width: W, height: H, data: encodeDelta(picture(1), picture(2)), seq: 2, timestamp: 1033 });
    await early.next('delta-pixels');
    const late = await TestPeer.connect(`${relay.url}/stream/${ch}`);
    const key = await late.next('keyframe');
    assert.equal(key.timestamp, 1033);
    assert.ok(Buffer.from(picture(2)).equals(key.data));
    src.close();
    early.close();
    late.close();
  });
});
