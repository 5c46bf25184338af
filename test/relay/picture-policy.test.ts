// A picture bigger than the receiver high-water mark (a 720p keyframe is 3.7 MB, the mark 256 KiB)
// must not make every receiver that was just sent it "behind": the deltas that follow used to be
// skipped and replaced by another whole keyframe, over and over, at a fraction of the frame rate.
// A receiver is behind when it holds more than the high-water mark on top of one picture.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { encodeDelta } from '../../src/protocol/delta-codec.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import { Channel } from '../../src/relay/channel.js';
import type { ChannelContext } from '../../src/relay/channel.js';
import { DEFAULT_CONFIG } from '../../src/relay/config.js';
import { MemoryEngine } from '../../src/relay/engines/memory-engine.js';
import { FlushScheduler } from '../../src/relay/flush-scheduler.js';
import { SourcePeer } from '../../src/relay/peer.js';
import { ReceiverPeer } from '../../src/relay/receiver-peer.js';
import { RelayTotals } from '../../src/relay/stats.js';
import type { PeerConnection, PeerHandlers } from '../../src/relay/transport.js';

/** A connection whose written bytes stay "in the socket" (buffered) until the test drains it. */
class HeldConnection implements PeerConnection {
  readonly remoteAddress = '127.0.0.1';
  readonly acceptsFramed = false;
  readonly concatenable = false;
  isOpen = true;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  readonly delivered: Uint8Array[] = [];
  get bufferedAmount() {
    return this.heldBytes;
  }
  send(data: Uint8Array) {
    this.held.push(data);
    this.heldBytes += data.length;
  }
  sendText() {}
  writeFramed() {
    throw new Error('not framed');
  }
  batch(fn: () => void) {
    fn();
  }
  close() {
    this.isOpen = false;
  }
  terminate() {
    this.isOpen = false;
  }
  ping() {}
  pause() {}
  resume() {}
  setHandlers(_h: PeerHandlers) {}
  drain() {
    this.delivered.push(...this.held);
    this.held = [];
    this.heldBytes = 0;
  }
}

const W = 64;
const H = 64;
const tick = () => new Promise<void>((r) => setImmediate(r));

function world() {
  const config = { ...DEFAULT_CONFIG, receiverHighWaterBytes: 4096 };
  const scheduler = new FlushScheduler((e) => {
    throw e;
  });
  const log = pino({ level: 'silent' });
  const ctx: ChannelContext = {
    config,
    totals: new RelayTotals(),
    scheduler,
    engine: new MemoryEngine({ logRetainRecords: config.logRetainRecords, logRetainBytes: config.logRetainBytes }),
    log,
    peer: { scheduler, frame: (p) => p },
  };
  const channel = new Channel('pictures', ctx);
  const source = new SourcePeer(1, new HeldConnection(), log, () => ({}), ctx.peer, () => {});
  channel.attachSource(source);
  const conn = new HeldConnection();
  const receiver = new ReceiverPeer(2, conn, log, () => ({}), ctx.peer, () => {});
  channel.attachReceiver(receiver, null, undefined, true);
  channel.activate(receiver);
  let picture = new Uint8Array(W * H * 4).fill(7);
  const keyframe = () => channel.onSourceMessage(source, encodeMessage({ kind: 'keyframe', width: W, height: H, data: picture }));
  /** A delta that changes `bytes` bytes of the picture. */
  const delta = (bytes: number) => {
    const next = picture.slice();
    for (let i = 0; i < bytes; i++) next[(i * 4097) % next.length] = (next[(i * 4097) % next.length]! + 1) & 0xff;
    const d = encodeDelta(picture, next).slice();
    picture = next;
    channel.onSourceMessage(source, encodeMessage({ kind: 'delta-pixels', width: W, height: H, data: d }));
  };
  const kinds = () => conn.delivered.map((b) => decodeMessage(b, { maxPayload: 1 << 30 }).kind).filter((k) => k === 'keyframe' || k === 'delta-pixels');
  return { receiver, conn, keyframe, delta, kinds, channel };
}

describe('picture policy: pictures bigger than the high-water mark', () => {
  it('a receiver still reading its keyframe gets the deltas that follow, not another keyframe', async () => {
    const w = world();
    w.keyframe(); // 16 KiB > the 4 KiB mark
    await tick();
    for (let i = 0; i < 5; i++) {
      w.delta(8);
      await tick();
    }
    assert.ok(w.conn.bufferedAmount > 4096, 'the keyframe is still in the socket');
    w.conn.drain();
    w.channel.onReceiverDrain(w.receiver);
    await tick();
    w.conn.drain();
    assert.deepEqual(w.kinds(), ['keyframe', 'delta-pixels', 'delta-pixels', 'delta-pixels', 'delta-pixels', 'delta-pixels']);
  });

  it('a receiver that stops reading is still bounded: past the mark on top of one picture it skips to the current picture', async () => {
    const w = world();
    w.keyframe();
    await tick();
    for (let i = 0; i < 200; i++) {
      w.delta(200);
      await tick();
    }
    // One picture plus the mark, plus at most one frame past it.
    assert.ok(w.conn.bufferedAmount <= W * H * 4 + 16 + 4096 + 2 * (200 * 4), `held ${w.conn.bufferedAmount} bytes`);
    w.conn.drain();
    w.channel.onReceiverDrain(w.receiver);
    await tick();
    w.conn.drain();
    const kinds = w.kinds();
    assert.equal(kinds[0], 'keyframe');
    assert.equal(kinds.at(-1), 'keyframe', 'it catches up with the whole current picture');
    assert.ok(kinds.length < 200, `skipped what it could not take (${kinds.length} frames)`);
  });
});
