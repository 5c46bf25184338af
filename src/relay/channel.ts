/**
 * One channel on this relay node: its source, receivers and signaling peers, and the per-role
 * frame rules. Fan-out to receivers goes through one policy per kind of content (state, pictures,
 * logs; media is simply dropped for whoever is behind), each owning its per-receiver state.
 *
 * Fan-out keeps per-frame work independent of the number of receivers: receivers are grouped by
 * filter, each (frame, filter) is projected and encoded once, and the same bytes are queued for
 * every member of the group.
 */
import type { Logger } from 'pino';
import { CloseCode, closeCodeInfo } from '../protocol/close-codes.js';
import { Flag, FrameType } from '../protocol/frame-codes.js';
import { HEADER_SIZE, encodeFrame } from '../protocol/header.js';
import { ProtocolError } from '../protocol/errors.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import type { RelayConfig } from './config.js';
import { UpdateRefused } from './engine.js';
import type { ChannelSink, Delivery, Engine, EngineChannel, SourceUpdate } from './engine.js';
import { EVERYONE, Fanout } from './fanout.js';
import type { FlushScheduler } from './flush-scheduler.js';
import type { Peer, PeerContext, SignalPeer, SourcePeer } from './peer.js';
import { LogPolicy } from './policies/log-policy.js';
import { PicturePolicy } from './policies/picture-policy.js';
import { StatePolicy } from './policies/state-policy.js';
import { makeFilter } from './receiver-filter.js';
import type { ReceiverPeer } from './receiver-peer.js';
import { ChannelStats, ContentKind } from './stats.js';
import type { RelayTotals } from './stats.js';

export const SERVER_NAME = 'sluice/0.2.0';

/** State versions whose time a channel remembers (for field ages in the console). */
const VERSION_TIMES = 64;

/** A receiver that never answers the relay's first ping is made live after this long anyway. */
export const HANDSHAKE_WAIT_MS = 1000;
/**
 * After the pong, how long a receiver has for frames it sent in the same turn: a client library
 * may answer the ping before the application's Hello (both leave together).
 */
export const PONG_GRACE_MS = 10;

export interface ChannelContext {
  config: RelayConfig;
  totals: RelayTotals;
  scheduler: FlushScheduler;
  engine: Engine;
  log: Logger;
  peer: PeerContext;
}

export function errorFrame(code: number, message: string): Uint8Array {
  return encodeMessage({ kind: 'error', error: { code, name: closeCodeInfo(code).name, message } });
}

/** Copies a frame, setting FLAG_SENDER and prefixing the payload with the sender's id. */
function tagSender(frame: Uint8Array, id: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, HEADER_SIZE));
  out[1] = out[1]! | Flag.Sender;
  const v = new DataView(out.buffer);
  v.setUint32(12, frame.length - HEADER_SIZE + 4, true);
  v.setUint32(HEADER_SIZE, id >>> 0, true);
  out.set(frame.subarray(HEADER_SIZE), HEADER_SIZE + 4);
  return out;
}

export class Channel implements ChannelSink {
  readonly stats = new ChannelStats();
  readonly engineChannel: EngineChannel;
  source: SourcePeer | undefined;
  readonly receivers = new Map<number, ReceiverPeer>();
  readonly signalPeers = new Set<SignalPeer>();
  /** When the source left (or the channel was created): grace and log retention count from here. */
  sourceLeftAt = Date.now();
  private readonly fanout: Fanout;
  private readonly statePolicy: StatePolicy;
  private readonly picturePolicy: PicturePolicy;
  private readonly logPolicy: LogPolicy;

  constructor(
    readonly name: string,
    private readonly ctx: ChannelContext,
  ) {
    this.engineChannel = ctx.engine.openChannel(name, this);
    const cfg = ctx.config;
    const cache = () => this.engineChannel.cache;
    this.fanout = new Fanout(ctx.scheduler, ctx.peer.frame);
    this.statePolicy = new StatePolicy(cache, this.fanout, cfg.receiverHighWaterBytes, (n) => {
      this.stats.conflatedDiffs += n;
      ctx.totals.conflatedDiffs += n;
    });
    this.picturePolicy = new PicturePolicy(cache, this.fanout, cfg.receiverHighWaterBytes, () => {
      this.stats.skippedFrames++;
      ctx.totals.skippedFrames++;
    });
    this.logPolicy = new LogPolicy(cache, this.fanout, cfg.receiverHighWaterBytes, cfg.logReceiverMaxBytes, (r, message) => {
      if (r.closed) return;
      this.stats.tooSlowCloses++;
      this.refuse(r, CloseCode.TooSlow, message);
    });
  }

  get cache() {
    return this.engineChannel.cache;
  }

  get connectionCount(): number {
    return (this.source ? 1 : 0) + this.receivers.size + this.signalPeers.size;
  }

  /**
   * True when no one is connected and the channel's time is up: the grace period after its
   * source left, or — for a channel with log history — the log retention time.
   */
  collectable(now: number): boolean {
    if (this.connectionCount > 0) return false;
    // Nothing was ever published here (a receiver or /ws subscription opened it): nothing to keep.
    if (this.empty) return true;
    const keep = this.cache.log.next > 0 ? Math.max(this.ctx.config.graceMs, this.ctx.config.logRetainMs) : this.ctx.config.graceMs;
    return now - this.sourceLeftAt > keep;
  }

  /** Past its grace period but kept for its log history: may be evicted when the relay is full. */
  evictable(now: number): boolean {
    return this.connectionCount === 0 && (this.empty || now - this.sourceLeftAt > this.ctx.config.graceMs);
  }

  /** No source ever connected and nothing is cached. */
  private get empty(): boolean {
    const c = this.cache;
    return !this.hadSource && !c.hasState && c.log.next === 0 && !c.hasPicture && c.schemaFrame === undefined;
  }
  private hadSource = false;

  release(): void {
    this.engineChannel.release();
  }

  /** Counts frames and bytes written to this channel's peers. */
  countOut(frames: number, bytes: number): void {
    this.stats.framesOut += frames;
    this.stats.bytesOut += bytes;
    this.ctx.totals.framesOut += frames;
    this.ctx.totals.bytesOut += bytes;
  }

  // ---------------------------------------------------------------- membership

  private welcome(peer: Peer, extra: { created?: boolean; logAcked?: number }): Uint8Array {
    return encodeMessage({
      kind: 'welcome',
      welcome: {
        id: peer.id,
        channel: this.name,
        role: peer.role,
        heartbeatMs: this.ctx.config.heartbeatMs,
        maxPayload: this.ctx.config.maxPayload,
        server: SERVER_NAME,
        epoch: this.ctx.engine.epoch,
        ...(peer.role === 'receiver' ? { logNext: this.cache.log.next, created: extra.created === true } : {}),
        ...(extra.logAcked !== undefined ? { logAcked: extra.logAcked } : {}),
      },
    });
  }

  attachSource(peer: SourcePeer): void {
    this.source = peer;
    this.hadSource = true;
    this.stats.connectionsTotal++;
    // The Welcome waits for the engine's admission (a shared engine takes the channel's lease
    // first), so a source refused on another node gets its Error and close without a Welcome.
    this.engineChannel.setSourceOnline(true, peer.requestedAt, () => {
      if (peer.closed || peer.refused || this.source !== peer) return;
      peer.welcomed = true;
      const log = this.cache.log;
      peer.enqueue(this.welcome(peer, { logAcked: peer.producer !== undefined && log.producer === peer.producer ? log.producerSeq : 0 }));
    });
  }

  detachSource(peer: SourcePeer): void {
    if (this.source !== peer) return;
    this.source = undefined;
    this.sourceLeftAt = Date.now();
    this.engineChannel.setSourceOnline(false);
  }

  /**
   * Adds a receiver. With `handshake`, it stays pending until its first frame or pong (see
   * ReceiverPeer.pending): a relay ping goes out now, and the Welcome and catch-up follow the
   * answer. Without (internal receivers such as /ws subscriptions) it is live at once.
   */
  attachReceiver(r: ReceiverPeer, select: string[] | null, resume: number | undefined, handshake = false): void {
    this.receivers.set(r.id, r);
    this.stats.connectionsTotal++;
    this.stats.receiversPeak = Math.max(this.stats.receiversPeak, this.receivers.size);
    r.filter = makeFilter(select);
    r.resumeFrom = resume;
    r.onAfterFlush = () => {
      if (r.logSlot.replay && r.queuedBytes < this.ctx.config.receiverHighWaterBytes) setImmediate(() => this.logPolicy.pump(r));
    };
    r.pending = true;
    if (!handshake) return this.activate(r);
    r.pendingSince = Date.now();
    r.conn.ping();
  }

  /** A pending receiver goes live: Welcome, source status, schema, state, picture, history. */
  activate(r: ReceiverPeer): void {
    if (r.closed || !r.pending) return;
    r.pending = false;
    r.enqueue(this.welcome(r, { created: r.createdChannel }));
    const ec = this.engineChannel;
    r.enqueue(encodeMessage({ kind: 'source-status', status: { online: ec.sourceOnline, since: ec.sourceSince } }));
    const cache = this.cache;
    if (cache.schemaFrame) r.enqueue(cache.schemaFrame);
    this.statePolicy.join(r);
    this.picturePolicy.join(r);
    this.logPolicy.join(r, r.resumeFrom);
  }

  detachReceiver(r: ReceiverPeer): void {
    if (!this.receivers.delete(r.id)) return;
    if (!r.pending) this.statePolicy.leave(r);
  }

  attachSignal(peer: SignalPeer): void {
    this.signalPeers.add(peer);
    this.stats.connectionsTotal++;
  }

  detachSignal(peer: SignalPeer): void {
    this.signalPeers.delete(peer);
  }

  // ---------------------------------------------------------------- inbound

  /** Refuses a peer: an Error frame, then a close with the same code. */
  refuse(peer: Peer, code: number, message: string): void {
    if (peer.closed || peer.refused) return;
    peer.refused = true;
    this.ctx.totals.countClose(closeCodeInfo(code).name);
    if (this.ctx.log.isLevelEnabled('debug')) peer.log.debug({ code, message }, 'refusing peer');
    peer.enqueue(errorFrame(code, message));
    peer.close(code, message);
  }

  private decode(peer: Peer, data: Uint8Array): Message | undefined {
    this.stats.framesIn++;
    this.stats.bytesIn += data.length;
    this.ctx.totals.framesIn++;
    this.ctx.totals.bytesIn += data.length;
    try {
      return decodeMessage(data, { maxPayload: this.ctx.config.maxPayload, maxJsonPayload: this.ctx.config.maxJsonPayload });
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.refuse(peer, e.closeCode, e.message);
        return undefined;
      }
      throw e;
    }
  }

  private pong(peer: Peer, m: Message): void {
    // Pongs are droppable: a peer that does not read gets none (its RTT would be meaningless).
    if (peer.queuedBytes > this.ctx.config.receiverHighWaterBytes) return;
    peer.sendNow(encodeFrame({ type: FrameType.Pong, seq: m.seq ?? 0, timestamp: m.timestamp ?? 0 }));
  }

  private publish(peer: SourcePeer, update: SourceUpdate): void {
    try {
      const acked = this.engineChannel.publish(update);
      if (acked !== undefined) peer.ack(acked);
    } catch (e) {
      // A bad delta is refused before the cache is touched, so the channel stays intact.
      if (e instanceof ProtocolError) this.refuse(peer, e.closeCode, e.message);
      else if (e instanceof UpdateRefused) peer.enqueue(errorFrame(CloseCode.BadFrame, e.message));
      else throw e;
    }
  }

  onSourceMessage(peer: SourcePeer, data: Uint8Array): void {
    const m = this.decode(peer, data);
    if (m === undefined) return;
    if (m.sender !== undefined && m.kind !== 'rpc-result') {
      return this.refuse(peer, CloseCode.BadFrame, `FLAG_SENDER is only valid on RpcResult from a source`);
    }
    switch (m.kind) {
      case 'signal-sync':
      case 'signal-diff': {
        const limit = this.ctx.config.maxStateBytes;
        if (!this.cache.admitsUpdate(data.length - HEADER_SIZE, m.kind === 'signal-sync', limit)) {
          // Not applied: the source is told, its connection stays (it may delete fields).
          peer.enqueue(errorFrame(CloseCode.TooSlow, `the channel state would pass --max-state-bytes (${limit}); update refused`));
          return;
        }
        return m.kind === 'signal-sync' ? this.publish(peer, { kind: 'sync', state: m.state }) : this.publish(peer, { kind: 'diff', diff: m.diff, raw: data });
      }
      case 'schema-announce':
        return this.publish(peer, { kind: 'schema', raw: data });
      case 'keyframe':
        if (m.data.length === 0) return this.publish(peer, { kind: 'picture-reset', raw: data });
        return this.publish(peer, { kind: 'picture', raw: data, width: m.width, height: m.height, rgba: m.data });
      case 'pixels':
        if (m.data.length === 0) return this.publish(peer, { kind: 'media', raw: data });
        return this.publish(peer, { kind: 'picture', raw: data, width: m.width, height: m.height, rgba: m.data });
      case 'compressed-pixels':
        return this.publish(peer, { kind: 'compressed-picture', raw: data });
      case 'delta-pixels':
        return this.publish(peer, { kind: 'delta', raw: data, width: m.width, height: m.height, delta: m.data });
      case 'audio-pcm':
      case 'audio-compressed':
      case 'neural-audio':
      case 'neural-frame':
      case 'haptic':
        return this.publish(peer, { kind: 'media', raw: data });
      case 'log-record':
        return this.publish(peer, { kind: 'log', raw: data, producer: peer.producer, seq: m.offset });
      case 'stream-end':
        return this.publish(peer, { kind: 'end', raw: data });
      case 'rpc-result':
        if (m.sender === undefined) return this.refuse(peer, CloseCode.BadFrame, 'RpcResult needs FLAG_SENDER naming the receiver');
        this.engineChannel.sendToReceiver(m.sender, encodeMessage({ kind: 'rpc-result', result: m.result, seq: m.seq ?? 0, timestamp: m.timestamp ?? 0 }));
        return;
      case 'ping':
        return this.pong(peer, m);
      case 'pong':
      case 'hello':
        return;
      default:
        return this.refuse(peer, CloseCode.BadFrame, `a source may not send ${m.kind} frames`);
    }
  }

  onReceiverMessage(r: ReceiverPeer, data: Uint8Array): void {
    const m = this.decode(r, data);
    if (m === undefined) return;
    if (m.sender !== undefined) return this.refuse(r, CloseCode.BadFrame, 'receivers may not set FLAG_SENDER');
    if (r.pending) {
      // Its first frame: what it asks for (select, resume) shapes the catch-up it is about to get.
      if (m.kind === 'subscribe-filter') r.filter = makeFilter(m.select);
      else if (m.kind === 'resume') r.resumeFrom = m.offset;
      else if (m.kind === 'hello') {
        if (m.hello.select !== undefined) r.filter = makeFilter(m.hello.select && m.hello.select.length ? m.hello.select : null);
        if (m.hello.resumeFrom !== undefined) r.resumeFrom = m.hello.resumeFrom;
        if (m.hello.media !== undefined) r.mediaPaused = !m.hello.media;
      }
      this.activate(r);
      if (m.kind === 'subscribe-filter' || m.kind === 'resume' || m.kind === 'hello') return;
    }
    switch (m.kind) {
      case 'input':
        return this.forwardToSource(r, data);
      case 'rpc-call':
        return this.forwardCall(r, data, m.call.id);
      case 'subscribe-filter':
        return this.statePolicy.setFilter(r, m.select);
      case 'resume':
        return this.logPolicy.startReplay(r, m.offset);
      case 'hello':
        if (m.hello.select !== undefined) this.statePolicy.setFilter(r, m.hello.select && m.hello.select.length ? m.hello.select : null);
        if (m.hello.resumeFrom !== undefined) this.logPolicy.startReplay(r, m.hello.resumeFrom);
        if (m.hello.media !== undefined) this.setMedia(r, m.hello.media);
        return;
      case 'ping':
        return this.pong(r, m);
      case 'pong':
        return;
      default:
        return this.refuse(r, CloseCode.BadFrame, `a receiver may not send ${m.kind} frames`);
    }
  }

  /**
   * Pauses (`on` false) or resumes media for one live receiver. Paused, it skips pictures, audio,
   * haptics and neural frames (state, logs, control frames and RPC results still flow, and its
   * inputs are still forwarded); resumed, it gets the current picture if it missed a change.
   */
  private setMedia(r: ReceiverPeer, on: boolean): void {
    if (r.mediaPaused === !on) return;
    r.mediaPaused = !on;
    if (on) this.picturePolicy.resume(r);
  }

  /** The receiver answered the relay's ping: a pending one goes live (after a short grace). */
  onReceiverPong(r: ReceiverPeer): void {
    if (!r.pending || r.ponged) return;
    r.ponged = true;
    setTimeout(() => {
      if (r.pending && !r.closed) this.activate(r);
    }, PONG_GRACE_MS).unref();
  }

  private forwardToSource(r: ReceiverPeer, data: Uint8Array): void {
    if (this.engineChannel.sendToSource(tagSender(data, r.id))) {
      this.stats.inputsForwarded++;
      return;
    }
    // Not silent: the sender learns its input went nowhere (unless it is not reading either).
    if (r.queuedBytes > this.ctx.config.receiverHighWaterBytes) return;
    const online = this.engineChannel.sourceOnline;
    r.enqueue(errorFrame(online ? CloseCode.RateLimited : CloseCode.NotFound, online ? 'the source is not keeping up; input dropped' : 'the channel has no source; input dropped'));
  }

  /** An RPC call: to the source, or answered at once with an error carrying the call's id. */
  private forwardCall(r: ReceiverPeer, data: Uint8Array, id: string | number): void {
    if (this.engineChannel.sendToSource(tagSender(data, r.id))) {
      this.stats.inputsForwarded++;
      return;
    }
    const online = this.engineChannel.sourceOnline;
    const error = online ? { code: 'source-busy', message: 'the source is not keeping up; call not delivered' } : { code: 'no-source', message: 'the channel has no source' };
    r.enqueue(encodeMessage({ kind: 'rpc-result', result: { id, error } }));
  }

  onSignalMessage(peer: SignalPeer, text: string): void {
    this.stats.framesIn++;
    this.stats.bytesIn += text.length;
    const limit = this.ctx.config.signalMaxBytes;
    const bytes = Buffer.byteLength(text);
    // One text may not exceed what any peer is allowed to hold (an SDP offer is a few KiB).
    if (bytes > limit) return this.refuse(peer, CloseCode.TooLarge, `signaling text of ${bytes} bytes is over --signal-max-bytes (${limit})`);
    for (const other of this.signalPeers) {
      if (other === peer || other.closed) continue;
      // A signaling peer that does not read is closed, not buffered without bound: what it
      // missed (offers, candidates) cannot be conflated, and it renegotiates on reconnect.
      if (other.queuedBytes + bytes > limit) {
        this.refuse(other, CloseCode.TooSlow, `signaling peer fell ${other.queuedBytes} bytes behind`);
        continue;
      }
      other.conn.sendText(text);
      this.stats.framesOut++;
      this.stats.bytesOut += text.length;
    }
  }

  // ---------------------------------------------------------------- ChannelSink

  toSource(frame: Uint8Array): boolean {
    const s = this.source;
    // Not admitted yet (no Welcome): inputs would reach it before it knows it is the source.
    if (s === undefined || s.closed || !s.welcomed) return false;
    if (s.queuedBytes > this.ctx.config.sourceInputMaxBytes) return false;
    s.enqueue(frame);
    return true;
  }

  needsBefore(): boolean {
    return this.statePolicy.needsBefore();
  }

  toReceiver(receiverId: number, frame: Uint8Array): void {
    this.receivers.get(receiverId)?.enqueue(frame);
  }

  sourceStatus(online: boolean, since: number): void {
    this.toAll('status', encodeMessage({ kind: 'source-status', status: { online, since } }));
  }

  /**
   * Every live receiver gets this control frame. One that is behind keeps only the latest frame
   * of each kind (schema, source status, stream end) and gets it when it drains, so a source that
   * repeats them cannot grow a stalled receiver's queue.
   */
  private toAll(kind: 'schema' | 'status' | 'end', frame: Uint8Array): void {
    this.toLive(frame, (r) => (r.pendingControl ??= new Map()).set(kind, frame));
  }

  /**
   * Shares a frame with every live receiver; one that is behind skips it and `behind` says what
   * it gets instead (the latest control frame at drain, or nothing for media). A `media` frame
   * also skips receivers that paused media.
   */
  private toLive(frame: Uint8Array, behind: (r: ReceiverPeer) => void, media = false): void {
    if (this.receivers.size === 0) return;
    const hwm = this.ctx.config.receiverHighWaterBytes;
    const [batch, i] = this.fanout.share(EVERYONE, frame);
    for (const r of this.receivers.values()) {
      if (r.pending) continue;
      if (media && r.mediaPaused) r.skipShared(batch);
      else if (r.queuedBytes > hwm) {
        r.skipShared(batch);
        behind(r);
      } else r.enqueueShared(batch, i);
    }
  }

  deliver(d: Delivery): void {
    switch (d.kind) {
      case 'diff':
        this.stats.contentKinds |= ContentKind.State;
        this.noteVersion();
        return this.statePolicy.deliver(d);
      case 'schema':
      case 'end':
        return this.toAll(d.kind, d.raw);
      case 'picture':
        this.stats.contentKinds |= ContentKind.Pixels;
        this.pictureVersion++;
        if (this.receivers.size > 0) this.picturePolicy.deliver(this.receivers.values(), d.raw, false);
        return;
      case 'delta':
        this.pictureVersion++;
        if (this.receivers.size > 0) this.picturePolicy.deliver(this.receivers.values(), d.raw, true);
        return;
      case 'picture-reset':
        this.pictureVersion++;
        if (this.receivers.size > 0) this.picturePolicy.reset(this.receivers.values(), d.raw);
        return;
      case 'log':
        this.stats.contentKinds |= ContentKind.Log;
        if (this.receivers.size > 0) this.logPolicy.deliver(this.receivers.values(), d.raw, d.offset);
        return;
      case 'media': {
        const t = d.raw[0];
        this.stats.contentKinds |= t === FrameType.AudioPcm || t === FrameType.AudioCompressed ? ContentKind.Audio : ContentKind.Media;
        return this.deliverMedia(d.raw);
      }
    }
  }

  /** Bumped on every change of the current picture (the console re-encodes it only then). */
  pictureVersion = 0;

  /**
   * When recent state versions happened: a ring of (version, ms) pairs, so the console can give
   * each field's age. One slot write per state change; allocated on the first one.
   */
  private versionTimes: Float64Array | undefined;

  private noteVersion(): void {
    const ring = (this.versionTimes ??= new Float64Array(2 * VERSION_TIMES));
    const v = this.cache.version;
    const i = 2 * (v % VERSION_TIMES);
    ring[i] = v;
    ring[i + 1] = Date.now();
  }

  /** When state version `v` was made on this node, if it is recent enough to be remembered. */
  versionTime(v: number): number | undefined {
    const ring = this.versionTimes;
    if (ring === undefined) return undefined;
    const i = 2 * (v % VERSION_TIMES);
    return ring[i] === v ? ring[i + 1] : undefined;
  }

  /** How far a receiver is behind, for the console: queued bytes past the high-water mark or a policy's pending catch-up. */
  receiverLag(r: ReceiverPeer): { behind: boolean; versions: number | undefined; offsets: number | undefined; syncPending: boolean } {
    const slot = r.stateSlot;
    const versions = slot.behind !== undefined ? this.cache.version - slot.behind.version : slot.needSync && slot.syncFrom !== undefined ? this.cache.version - slot.syncFrom : undefined;
    const log = this.cache.log;
    const offsets = log.next > 0 ? Math.max(0, log.next - r.logSlot.cursor) : undefined;
    // A paused receiver owes itself the current picture on resume: that is not lag.
    const behind = r.queuedBytes > this.ctx.config.receiverHighWaterBytes || slot.behind !== undefined || slot.needSync || this.picturePolicy.needsDrain(r) || r.logSlot.replay;
    return { behind, versions, offsets, syncPending: slot.needSync };
  }

  /** Audio, haptics, neural frames: nothing cached; whoever is behind or paused misses them. */
  private deliverMedia(raw: Uint8Array): void {
    this.toLive(raw, this.countDropped, true);
  }
  private readonly countDropped = (): void => {
    this.stats.droppedFrames++;
    this.ctx.totals.droppedFrames++;
  };

  /** The receiver's queue went down: each policy sends what it missed while behind. */
  onReceiverDrain(r: ReceiverPeer): void {
    if (r.closed || r.pending || r.queuedBytes > this.ctx.config.receiverHighWaterBytes) return;
    const control = r.pendingControl;
    if (control !== undefined) {
      r.pendingControl = undefined;
      for (const frame of control.values()) r.enqueue(frame);
    }
    this.statePolicy.onDrain(r);
    this.picturePolicy.onDrain(r);
    this.logPolicy.onDrain(r);
  }

  /** Safety net for drains the transport did not report; late handshakes. */
  sweep(now: number): void {
    for (const r of this.receivers.values()) {
      if (r.pending) {
        if (now - r.pendingSince > HANDSHAKE_WAIT_MS) this.activate(r);
      } else if (r.pendingControl !== undefined || this.statePolicy.needsDrain(r) || this.picturePolicy.needsDrain(r) || this.logPolicy.needsDrain(r)) this.onReceiverDrain(r);
    }
  }

  // ---------------------------------------------------------------- introspection

  snapshotStats() {
    const receivers = [...this.receivers.values()];
    return {
      name: this.name,
      sourceOnline: this.engineChannel.sourceOnline,
      receivers: receivers.length,
      signalPeers: this.signalPeers.size,
      stateVersion: this.cache.version,
      fields: this.cache.fieldVersions.size,
      logNext: this.cache.log.next,
      logRetained: this.cache.log.size,
      ...this.stats,
      lag: receivers
        .filter((r) => r.queuedBytes > 0 || this.statePolicy.needsDrain(r) || r.logSlot.replay)
        .slice(0, 100)
        .map((r) => ({ id: r.id, queuedBytes: r.queuedBytes, behind: this.statePolicy.needsDrain(r), logCursor: r.logSlot.cursor })),
    };
  }
}
