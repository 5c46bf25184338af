// Per-receiver "media paused" (Hello `media: false|true`), over real sockets: a paused receiver
// gets no pictures or audio but still gets state and status, and its inputs still reach the
// source; on resume it gets the current picture first (only when it missed a change), then live
// deltas, and its picture equals the source's; toggling fast cannot multiply keyframes; hostile
// values are refused like any bad Hello.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { applyDeltaInPlace, encodeDelta } from '../../src/protocol/delta-codec.js';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { HEADER_SIZE } from '../../src/protocol/header.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import type { Message } from '../../src/protocol/message.js';
import { pino } from 'pino';
import { Channel } from '../../src/relay/channel.js';
import type { ChannelContext } from '../../src/relay/channel.js';
import { DEFAULT_CONFIG } from '../../src/relay/config.js';
import { MemoryEngine } from '../../src/relay/engines/memory-engine.js';
import { FlushScheduler } from '../../src/relay/flush-scheduler.js';
import { SourcePeer } from '../../src/relay/peer.js';
import { ReceiverPeer } from '../../src/relay/receiver-peer.js';
import { RelayTotals } from '../../src/relay/stats.js';
import type { PeerConnection, PeerHandlers } from '../../src/relay/transport.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import type { RelayOptions } from '../../src/relay/server.js';
import { until } from '../support/wait.js';

const W = 32;
const H = 16;
const PICTURE_KINDS = new Set(['keyframe', 'pixels', 'delta-pixels', 'compressed-pixels']);
const MEDIA_KINDS = new Set([...PICTURE_KINDS, 'audio-pcm', 'audio-compressed', 'haptic', 'neural-frame', 'neural-audio']);

/** A source that publishes a keyframe, then deltas; `picture` is what it last published. */
class PictureSource {
  picture: Uint8Array = new Uint8Array(W * H * 4);
  private n = 0;
  constructor(readonly peer: TestPeer) {}
  keyframe(): void {
    this.picture = this.paint(this.picture);
    this.peer.send({ kind: 'keyframe', width: W, height: H, data: this.picture });
  }
  delta(): void {
    const next = this.paint(this.picture);
    this.peer.send({ kind: 'delta-pixels', width: W, height: H, data: encodeDelta(this.picture, next).slice() });
    this.picture = next;
  }
  private paint(prev: Uint8Array): Uint8Array {
    const next = prev.slice();
    const k = ++this.n;
    for (let i = 0; i < 40; i++) next[(k * 97 + i * 13) % next.length] = (k * 31 + i) & 0xff;
    return next;
  }
}

/** Media messages a receiver got, from index `from` on. */
function media(r: TestPeer, from = 0): Message[] {
  return r.received.slice(from).flatMap((x) => (x.message && MEDIA_KINDS.has(x.message.kind) ? [x.message] : []));
}

/** Applies a receiver's picture frames like a client decoder would; undefined until a keyframe. */
function decode(messages: Message[]): Uint8Array | undefined {
  let rgba: Uint8Array | undefined;
  for (const m of messages) {
    if (m.kind === 'keyframe' || m.kind === 'pixels') rgba = m.data.length ? m.data.slice() : undefined;
    else if (m.kind === 'delta-pixels') {
      assert.ok(rgba, 'a delta arrived with no picture to apply it to: broken chain');
      applyDeltaInPlace(rgba, m.data);
    }
  }
  return rgba;
}

const kinds = (ms: Message[]) => ms.map((m) => m.kind);

async function setup(t: { after(fn: () => unknown): void }, ch: string, hello?: Record<string, unknown>, options: RelayOptions = {}) {
  const relay = await startTestRelay(options);
  const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
  await src.next('welcome');
  const rcv = await TestPeer.connect(`${relay.url}/stream/${ch}`);
  if (hello) rcv.sendRaw(helloBytes(hello));
  await rcv.next('welcome');
  t.after(async () => {
    src.close();
    rcv.close();
    await relay.close();
  });
  return { relay, src, source: new PictureSource(src), rcv };
}

/** A Hello frame with any JSON payload (the encoder only writes valid ones). */
function helloBytes(payload: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(payload));
  const out = new Uint8Array(HEADER_SIZE + body.length);
  out[0] = FrameType.Hello;
  new DataView(out.buffer).setUint32(12, body.length, true);
  out.set(body, HEADER_SIZE);
  return out;
}

/** Sends a Ping and waits for its Pong: everything the relay did before answering has been read. */
async function roundTrip(p: TestPeer): Promise<void> {
  const before = p.messages('pong').length;
  p.send({ kind: 'ping', seq: 77 });
  await p.until(() => p.messages('pong').length > before, 5000, 'pong');
}

/** The console's row for the channel's one receiver, once `ready` holds (the detail is recomputed once a second). */
async function receiverRow(relay: TestRelay, ch: string, ready: (row: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`${relay.url.replace('ws:', 'http:')}/api/channels/${ch}`);
    const body = (await res.json()) as { receiverList: Array<Record<string, unknown>> };
    assert.equal(body.receiverList.length, 1);
    const row = body.receiverList[0]!;
    if (ready(row) || Date.now() > deadline) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('media paused per receiver', () => {
  it('a paused receiver gets state, status and schema but no pictures or audio; its inputs still reach the source', async (t) => {
    const { relay, src, source, rcv } = await setup(t, 'mp-state');
    source.keyframe();
    await rcv.until(() => media(rcv).length === 1, 5000, 'the first keyframe');
    assert.equal((await receiverRow(relay, 'mp-state', (r) => r.media === 'live')).media, 'live');

    rcv.sendRaw(helloBytes({ media: false }));
    await roundTrip(rcv);
    assert.equal((await receiverRow(relay, 'mp-state', (r) => r.media === 'paused')).media, 'paused');
    const mark = rcv.received.length;
    for (let i = 0; i < 5; i++) source.delta();
    src.send({ kind: 'audio-pcm', sampleRate: 48000, channels: 1, samples: new Float32Array([0.5, -0.5]) });
    src.send({ kind: 'haptic', intensity: 9, durationMs: 10 });
    src.send({ kind: 'signal-sync', state: { count: 1 } });
    src.send({ kind: 'signal-diff', diff: { count: 2 } });
    src.send({ kind: 'schema-announce', schema: { signals: ['count'], mode: 'signal' } });
    await rcv.until(() => rcv.state.count === 2 && rcv.messages('schema-announce').length > 0, 5000, 'state while paused');
    // An input from the paused receiver is forwarded as before.
    rcv.send({ kind: 'input', event: { input: 'text', text: 'hi' } });
    await src.until(() => src.messages('input').length === 1, 5000, 'the input at the source');
    await roundTrip(rcv);
    assert.deepEqual(kinds(media(rcv, mark)), []);
    // Not reported as behind: the picture it is owed waits for its resume, not for a drain.
    const channel = relay.channels.get('mp-state')!;
    assert.equal(channel.receiverLag([...channel.receivers.values()][0]!).behind, false);
    assert.equal(relay.channels.get('mp-state')!.stats.skippedFrames, 0, 'paused skips are not slow-receiver skips');
  });

  it('on resume it gets the current picture first, then live deltas, and its picture equals the source', async (t) => {
    const { source, rcv } = await setup(t, 'mp-resume');
    source.keyframe();
    source.delta();
    await rcv.until(() => media(rcv).length === 2, 5000, 'keyframe and delta');
    rcv.sendRaw(helloBytes({ media: false }));
    await roundTrip(rcv);
    for (let i = 0; i < 7; i++) source.delta();
    await roundTrip(rcv);
    const mark = rcv.received.length;
    rcv.sendRaw(helloBytes({ media: true }));
    await rcv.until(() => media(rcv, mark).length === 1, 5000, 'the resume keyframe');
    for (let i = 0; i < 3; i++) source.delta();
    await rcv.until(() => media(rcv, mark).length === 4, 5000, 'live deltas');
    assert.deepEqual(kinds(media(rcv, mark)), ['keyframe', 'delta-pixels', 'delta-pixels', 'delta-pixels']);
    assert.deepEqual(decode(media(rcv)), source.picture);
  });

  it('a resume with nothing missed sends no keyframe: the chain simply continues', async (t) => {
    const { source, rcv } = await setup(t, 'mp-nochange');
    source.keyframe();
    await rcv.until(() => media(rcv).length === 1, 5000, 'keyframe');
    const mark = rcv.received.length;
    rcv.sendRaw(helloBytes({ media: false }));
    rcv.sendRaw(helloBytes({ media: true }));
    await roundTrip(rcv);
    source.delta();
    await rcv.until(() => media(rcv, mark).length === 1, 5000, 'the delta');
    assert.deepEqual(kinds(media(rcv, mark)), ['delta-pixels']);
    assert.deepEqual(decode(media(rcv)), source.picture);
  });

  it('a receiver that joins paused gets no picture until it resumes, then the current one', async (t) => {
    const relay = await startTestRelay();
    const src = await TestPeer.connect(`${relay.url}/source/mp-join`);
    t.after(async () => {
      src.close();
      await relay.close();
    });
    await src.next('welcome');
    const source = new PictureSource(src);
    source.keyframe();
    source.delta();
    await until(() => relay.channels.get('mp-join')?.cache.hasPicture === true, 5000, 'the picture');
    const rcv = await TestPeer.connect(`${relay.url}/stream/mp-join`);
    t.after(() => rcv.close());
    rcv.sendRaw(helloBytes({ client: 'test', media: false, someFutureMember: [1, 2] }));
    await rcv.next('welcome');
    src.send({ kind: 'signal-sync', state: { ok: true } });
    source.delta();
    await rcv.until(() => rcv.state.ok === true, 5000, 'state');
    await roundTrip(rcv);
    assert.deepEqual(kinds(media(rcv)), []);
    rcv.sendRaw(helloBytes({ media: true }));
    await rcv.until(() => media(rcv).length === 1, 5000, 'the current picture');
    assert.deepEqual(kinds(media(rcv)), ['keyframe']);
    assert.deepEqual(decode(media(rcv)), source.picture);
  });

  it('20,000 toggles: none without a picture change, one keyframe per change made while paused, and the picture is exact', async (t) => {
    // Above the default inbound limit (10,000 frames a second), which would only slow the test:
    // a relay that stops reading a peer at that limit cannot read its close at shutdown either.
    const { source, rcv } = await setup(t, 'mp-storm', undefined, { maxFramesPerSecond: 100_000 });
    source.keyframe();
    await rcv.until(() => media(rcv).length === 1, 5000, 'keyframe');
    const mark = rcv.received.length;
    // Toggle storm without picture changes: nothing to resend.
    for (let i = 0; i < 5000; i++) {
      rcv.sendRaw(helloBytes({ media: false }));
      rcv.sendRaw(helloBytes({ media: true }));
    }
    await roundTrip(rcv);
    assert.deepEqual(kinds(media(rcv, mark)), [], 'toggles alone cost no keyframes');

    // 10 rounds of 1,000 toggles, each round with one picture change made while it is paused.
    const changes = 10;
    for (let round = 0; round < changes; round++) {
      for (let i = 0; i < 499; i++) rcv.sendRaw(helloBytes({ media: i % 2 === 1 })); // ends paused
      await roundTrip(rcv);
      source.delta();
      await roundTrip(source.peer);
      for (let i = 0; i < 501; i++) rcv.sendRaw(helloBytes({ media: i % 2 === 0 })); // ends resumed
    }
    await roundTrip(rcv);
    const got = media(rcv, mark);
    const keyframes = got.filter((m) => m.kind === 'keyframe').length;
    assert.deepEqual(kinds(got), Array<string>(changes).fill('keyframe'), `${keyframes} keyframes for ${changes} picture changes and 10,000 toggles`);
    // It ended resumed: a last change reaches it and its picture is the source's.
    source.delta();
    await rcv.until(() => media(rcv, mark).length > got.length, 5000, 'the last frame');
    assert.deepEqual(decode(media(rcv)), source.picture);
    assert.equal(rcv.closeCode, undefined);
  });

  it('hostile media values are refused with an Error frame and close 4400; unknown members are tolerated', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    for (const bad of ['false', 0, 1, null, [], {}]) {
      for (const when of ['handshake', 'live'] as const) {
        const rcv = await TestPeer.connect(`${relay.url}/stream/mp-bad`);
        if (when === 'live') {
          rcv.sendRaw(helloBytes({}));
          await rcv.next('welcome');
        }
        rcv.sendRaw(helloBytes({ media: bad }));
        const code = await rcv.waitClose();
        assert.equal(code, CloseCode.BadFrame, `media ${JSON.stringify(bad)} (${when})`);
        const err = rcv.messages('error').at(-1);
        assert.ok(err && err.kind === 'error' && /media must be a boolean/.test(err.error.message), `an Error frame for media ${JSON.stringify(bad)}`);
      }
    }
    const ok = await TestPeer.connect(`${relay.url}/stream/mp-bad`);
    t.after(() => ok.close());
    ok.sendRaw(helloBytes({ media: true, notYetDefined: 'x' }));
    await ok.next('welcome');
    await roundTrip(ok);
    assert.equal(ok.closeCode, undefined);
  });
});

/** A connection whose written bytes stay "in the socket" until the test drains it (as in picture-policy.test.ts). */
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

describe('media paused: a receiver that is also behind', () => {
  it('resuming while behind owes one keyframe, sent when it drains, however often it toggles', async () => {
    const config = { ...DEFAULT_CONFIG, receiverHighWaterBytes: 1024 };
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
    const channel = new Channel('held', ctx);
    const srcPeer = new SourcePeer(1, new HeldConnection(), log, () => ({}), ctx.peer, () => {});
    channel.attachSource(srcPeer);
    const conn = new HeldConnection();
    const r = new ReceiverPeer(2, conn, log, () => ({}), ctx.peer, () => {});
    channel.attachReceiver(r, null, undefined, true);
    channel.activate(r);
    const tick = () => new Promise<void>((res) => setImmediate(res));
    const hello = (media: boolean) => channel.onReceiverMessage(r, encodeMessage({ kind: 'hello', hello: { media } }));
    let picture: Uint8Array = new Uint8Array(W * H * 4).fill(3);
    const keyframe = () => channel.onSourceMessage(srcPeer, encodeMessage({ kind: 'keyframe', width: W, height: H, data: picture }));
    const delta = () => {
      const next = picture.slice();
      next[0] = (next[0]! + 1) & 0xff;
      const d = encodeDelta(picture, next).slice();
      picture = next;
      channel.onSourceMessage(srcPeer, encodeMessage({ kind: 'delta-pixels', width: W, height: H, data: d }));
    };
    // Its socket still holds the first picture, more than the mark: a resume now must wait for the drain.
    keyframe();
    await tick();
    for (let i = 0; i < 2; i++) {
      delta();
      await tick();
    }
    hello(false);
    delta(); // skipped: paused
    for (let i = 0; i < 1000; i++) {
      hello(true);
      hello(false);
    }
    hello(true);
    await tick();
    const queuedBefore = conn.bufferedAmount;
    assert.ok(queuedBefore <= W * H * 4 + 16 + 1024 + 2 * 64, `at most one picture on top of the mark is queued (${queuedBefore} bytes)`);
    conn.drain();
    channel.onReceiverDrain(r);
    await tick();
    conn.drain();
    const got = conn.delivered.map((b) => decodeMessage(b, { maxPayload: 1 << 30 })).filter((m) => PICTURE_KINDS.has(m.kind));
    // The first keyframe and its deltas, then the ONE picture owed since the pause, at the drain.
    assert.deepEqual(kinds(got), ['keyframe', 'delta-pixels', 'delta-pixels', 'keyframe']);
    assert.deepEqual(decode(got), picture);
  });
});
