/**
 * One channel on this relay node: its source, receivers and signaling peers; the per-role frame
 * rules; and fan-out with the slow-receiver policy of each kind of content.
 *
 * Fan-out keeps per-frame work independent of the number of receivers: receivers are grouped by
 * filter, each (frame, filter) is projected and encoded once, and the same bytes are queued for
 * every member of the group.
 */
import type { Logger } from 'pino';
import { CloseCode, closeCodeInfo } from '../protocol/close-codes.js';
import { Flag, FrameType } from '../protocol/frame-codes.js';
import { HEADER_SIZE, encodeFrame, readHeader } from '../protocol/header.js';
import { ProtocolError } from '../protocol/errors.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { projectDiff, projectState } from '../protocol/select.js';
import { utf8Encode } from '../protocol/utf8.js';
import type { JsonObject } from '../protocol/utf8.js';
import type { RelayConfig } from './config.js';
import type { ChannelSink, Delivery, Engine, EngineChannel, SourceUpdate } from './engine.js';
import type { FlushScheduler } from './flush-scheduler.js';
import type { Peer, PeerContext, SignalPeer, SourcePeer } from './peer.js';
import { SharedBatch } from './shared-batch.js';
import { makeFilter } from './receiver-peer.js';
import type { ReceiverFilter, ReceiverPeer } from './receiver-peer.js';
import { ChannelStats } from './stats.js';
import type { RelayTotals } from './stats.js';

export const SERVER_NAME = 'sluice/0.1.0';

/** Audience of frames every receiver of a channel gets (filter groups are keyed by strings). */
const ALL = Symbol('all receivers');

export interface ChannelContext {
  config: RelayConfig;
  totals: RelayTotals;
  scheduler: FlushScheduler;
  engine: Engine;
  log: Logger;
  peer: PeerContext;
}

interface FilterGroup {
  filter: ReceiverFilter | null;
  members: Set<ReceiverPeer>;
}

function errorFrame(code: number, message: string): Uint8Array {
  return encodeMessage({ kind: 'error', error: { code, name: closeCodeInfo(code).name, message } });
}

function diffFrame(diff: JsonObject, seq = 0, timestamp = 0): Uint8Array {
  return encodeFrame({ type: FrameType.SignalDiff, seq, timestamp }, utf8Encode(JSON.stringify(diff)));
}

function syncFrame(state: JsonObject): Uint8Array {
  return encodeFrame({ type: FrameType.SignalSync, flags: Flag.Keyframe }, utf8Encode(JSON.stringify(state)));
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
  private readonly groups = new Map<string, FilterGroup>();
  /** Encoded catch-up syncs per filter, valid for one state version (1,000 joiners → 1 encode). */
  private readonly syncCache = new Map<string, { version: number; bytes: Uint8Array }>();
  /** This tick's shared batch per audience: a filter key, or ALL for every receiver. */
  private readonly batches = new Map<string | symbol, SharedBatch>();
  /** When the source left (or the channel was created): the grace period counts from here. */
  sourceLeftAt = Date.now();

  constructor(
    readonly name: string,
    private readonly ctx: ChannelContext,
  ) {
    this.engineChannel = ctx.engine.openChannel(name, this);
  }

  get cache() {
    return this.engineChannel.cache;
  }

  get connectionCount(): number {
    return (this.source ? 1 : 0) + this.receivers.size + this.signalPeers.size;
  }

  /** True when no one is connected and the source's grace period has run out. */
  collectable(now: number): boolean {
    return this.connectionCount === 0 && now - this.sourceLeftAt > this.ctx.config.graceMs;
  }

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

  // ---------------------------------------------------------------- shared batches

  /** This tick's batch for `audience`, if frames already went to it this tick. */
  private currentBatch(audience: string | symbol): SharedBatch | undefined {
    const b = this.batches.get(audience);
    return b !== undefined && b.tick === this.ctx.scheduler.tick ? b : undefined;
  }

  /** Appends a frame to this tick's batch for `audience`; returns the batch, the frame's index and whether the batch is new. */
  private share(audience: string | symbol, frame: Uint8Array): [SharedBatch, number, boolean] {
    let b = this.currentBatch(audience);
    const fresh = b === undefined;
    if (b === undefined) {
      b = new SharedBatch(this.ctx.scheduler.tick);
      this.batches.set(audience, b);
    }
    return [b, b.push(frame, this.ctx.peer.frame(frame)), fresh];
  }

  /** A receiver that (re)enters its group mid-tick follows the rest of the tick's frames. */
  private followGroup(r: ReceiverPeer): void {
    const b = this.currentBatch(r.filterKey);
    if (b) r.joinShared(b);
  }

  // ---------------------------------------------------------------- membership

  private welcome(peer: Peer): Uint8Array {
    return encodeMessage({
      kind: 'welcome',
      welcome: {
        id: peer.id,
        channel: this.name,
        role: peer.role,
        heartbeatMs: this.ctx.config.heartbeatMs,
        maxPayload: this.ctx.config.maxPayload,
        server: SERVER_NAME,
        ...(peer.role === 'receiver' ? { logNext: this.cache.log.next } : {}),
      },
    });
  }

  attachSource(peer: SourcePeer): void {
    this.source = peer;
    this.stats.connectionsTotal++;
    peer.enqueue(this.welcome(peer));
    this.engineChannel.setSourceOnline(true);
  }

  detachSource(peer: SourcePeer): void {
    if (this.source !== peer) return;
    this.source = undefined;
    this.sourceLeftAt = Date.now();
    this.engineChannel.setSourceOnline(false);
  }

  attachReceiver(r: ReceiverPeer, select: string[] | null, resume: number | undefined): void {
    this.receivers.set(r.id, r);
    this.stats.connectionsTotal++;
    this.stats.receiversPeak = Math.max(this.stats.receiversPeak, this.receivers.size);
    r.filter = makeFilter(select);
    this.joinGroup(r);
    r.onAfterFlush = () => {
      if (r.logReplay && r.queuedBytes < this.ctx.config.receiverHighWaterBytes) setImmediate(() => this.pumpLog(r));
    };
    r.enqueue(this.welcome(r));
    const ec = this.engineChannel;
    r.enqueue(encodeMessage({ kind: 'source-status', status: { online: ec.sourceOnline, since: ec.sourceSince } }));
    const cache = this.cache;
    if (cache.schemaFrame) r.enqueue(cache.schemaFrame);
    if (cache.hasState) r.enqueue(this.catchUpSync(r.filter));
    if (cache.hasPicture) r.enqueue(cache.pictureFrame()!);
    if (resume !== undefined || cache.log.next > 0) this.startLogReplay(r, resume ?? cache.log.first);
    else r.logCursor = cache.log.next;
    // Diffs later in this tick come after the catch-up sync.
    this.followGroup(r);
  }

  detachReceiver(r: ReceiverPeer): void {
    if (!this.receivers.delete(r.id)) return;
    this.leaveGroup(r);
  }

  attachSignal(peer: SignalPeer): void {
    this.signalPeers.add(peer);
    this.stats.connectionsTotal++;
  }

  detachSignal(peer: SignalPeer): void {
    this.signalPeers.delete(peer);
  }

  private joinGroup(r: ReceiverPeer): void {
    const key = r.filterKey;
    let g = this.groups.get(key);
    if (!g) {
      g = { filter: r.filter, members: new Set() };
      this.groups.set(key, g);
    }
    g.members.add(r);
  }

  /** Leaves the current group's batch for the rest of the tick (e.g. before a filter change). */
  private leaveGroupBatch(r: ReceiverPeer): void {
    const b = this.currentBatch(r.filterKey);
    if (b) r.skipShared(b);
  }

  private leaveGroup(r: ReceiverPeer): void {
    const key = r.filterKey;
    const g = this.groups.get(key);
    if (!g) return;
    g.members.delete(r);
    if (g.members.size === 0) {
      this.groups.delete(key);
      this.syncCache.delete(key);
    }
  }

  private catchUpSync(filter: ReceiverFilter | null): Uint8Array {
    const key = filter?.key ?? '*';
    const cached = this.syncCache.get(key);
    if (cached && cached.version === this.cache.version) return cached.bytes;
    const state = filter ? projectState(this.cache.state, filter.tree) : this.cache.state;
    const bytes = syncFrame(state);
    this.syncCache.set(key, { version: this.cache.version, bytes });
    return bytes;
  }

  private setFilter(r: ReceiverPeer, select: string[] | null): void {
    this.leaveGroupBatch(r);
    this.leaveGroup(r);
    r.filter = makeFilter(select);
    this.joinGroup(r);
    // A new filter gets a fresh projected sync; anything it was behind on is covered by it.
    r.behind = undefined;
    if (this.cache.hasState) r.enqueue(this.catchUpSync(r.filter));
    this.followGroup(r);
  }

  // ---------------------------------------------------------------- inbound

  /** Refuses a peer: an Error frame, then a close with the same code. */
  refuse(peer: Peer, code: number, message: string): void {
    if (peer.closed) return;
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
      return decodeMessage(data, { maxPayload: this.ctx.config.maxPayload });
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.refuse(peer, e.closeCode, e.message);
        return undefined;
      }
      throw e;
    }
  }

  private pong(peer: Peer, m: Message): void {
    peer.sendNow(encodeFrame({ type: FrameType.Pong, seq: m.seq ?? 0, timestamp: m.timestamp ?? 0 }));
  }

  private publish(peer: Peer, update: SourceUpdate): void {
    try {
      this.engineChannel.publish(update);
    } catch (e) {
      // A bad delta is refused before the cache is touched, so the channel stays intact.
      if (e instanceof ProtocolError) this.refuse(peer, e.closeCode, e.message);
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
        return this.publish(peer, { kind: 'sync', state: m.state });
      case 'signal-diff':
        return this.publish(peer, { kind: 'diff', diff: m.diff, raw: data });
      case 'schema-announce':
        return this.publish(peer, { kind: 'schema', raw: data });
      case 'pixels':
      case 'keyframe':
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
        return this.publish(peer, { kind: 'log', raw: data });
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
    switch (m.kind) {
      case 'input':
      case 'rpc-call':
        return this.forwardToSource(r, data);
      case 'subscribe-filter':
        return this.setFilter(r, m.select);
      case 'resume':
        return this.startLogReplay(r, m.offset);
      case 'hello':
        if (m.hello.select !== undefined) this.setFilter(r, m.hello.select.length ? m.hello.select : null);
        if (m.hello.resumeFrom !== undefined) this.startLogReplay(r, m.hello.resumeFrom);
        return;
      case 'ping':
        return this.pong(r, m);
      case 'pong':
        return;
      default:
        return this.refuse(r, CloseCode.BadFrame, `a receiver may not send ${m.kind} frames`);
    }
  }

  private forwardToSource(r: ReceiverPeer, data: Uint8Array): void {
    if (this.engineChannel.sendToSource(tagSender(data, r.id))) {
      this.stats.inputsForwarded++;
      return;
    }
    // Not silent: the sender learns its input went nowhere.
    const why = this.engineChannel.sourceOnline ? 'the source is not keeping up; input dropped' : 'the channel has no source; input dropped';
    r.enqueue(errorFrame(this.engineChannel.sourceOnline ? CloseCode.RateLimited : CloseCode.NotFound, why));
  }

  onSignalMessage(peer: SignalPeer, text: string): void {
    this.stats.framesIn++;
    this.stats.bytesIn += text.length;
    for (const other of this.signalPeers) {
      if (other !== peer && !other.closed) {
        other.conn.sendText(text);
        this.stats.framesOut++;
        this.stats.bytesOut += text.length;
      }
    }
  }

  // ---------------------------------------------------------------- ChannelSink

  toSource(frame: Uint8Array): boolean {
    const s = this.source;
    if (s === undefined || s.closed) return false;
    if (s.queuedBytes > this.ctx.config.sourceInputMaxBytes) return false;
    s.enqueue(frame);
    return true;
  }

  toReceiver(receiverId: number, frame: Uint8Array): void {
    this.receivers.get(receiverId)?.enqueue(frame);
  }

  sourceStatus(online: boolean, since: number): void {
    this.toAll(encodeMessage({ kind: 'source-status', status: { online, since } }));
  }

  /** Every receiver gets this frame. */
  private toAll(frame: Uint8Array): void {
    if (this.receivers.size === 0) return;
    const [batch, i] = this.share(ALL, frame);
    for (const r of this.receivers.values()) r.enqueueShared(batch, i);
  }

  deliver(d: Delivery): void {
    switch (d.kind) {
      case 'diff':
        return this.deliverDiff(d);
      case 'schema':
      case 'end':
        return this.toAll(d.raw);
      case 'picture':
        return this.deliverPicture(d.raw, false);
      case 'delta':
        return this.deliverPicture(d.raw, true);
      case 'log':
        return this.deliverLog(d.raw, d.offset);
      case 'media': {
        if (this.receivers.size === 0) return;
        const hwm = this.ctx.config.receiverHighWaterBytes;
        const [batch, i] = this.share(ALL, d.raw);
        for (const r of this.receivers.values()) {
          if (r.queuedBytes > hwm) {
            r.skipShared(batch);
            this.stats.droppedFrames++;
            this.ctx.totals.droppedFrames++;
          } else r.enqueueShared(batch, i);
        }
        return;
      }
    }
  }

  private deliverDiff(d: Extract<Delivery, { kind: 'diff' }>): void {
    const hwm = this.ctx.config.receiverHighWaterBytes;
    // Re-encoded diffs keep the source's seq and timestamp; read them only when one is encoded.
    let header: { seq: number; timestamp: number } | undefined;
    const encode = (diff: JsonObject) => {
      header ??= d.raw ? readHeader(d.raw) : { seq: 0, timestamp: 0 };
      return diffFrame(diff, header.seq, header.timestamp);
    };
    for (const [key, g] of this.groups) {
      let bytes: Uint8Array;
      if (g.filter === null) bytes = d.raw ?? encode(d.diff);
      else {
        const projected = projectDiff(d.diff, g.filter.tree);
        if (Object.keys(projected).length === 0) continue; // touches nothing this group selected
        bytes = encode(projected);
      }
      const [batch, i, fresh] = this.share(key, bytes);
      if (fresh) {
        // Once per tick and group: who is live follows the batch (later frames of the tick
        // cost O(1) whatever the number of receivers); who is behind sits the tick out.
        for (const r of g.members) {
          if (r.behind === undefined && r.queuedBytes <= hwm) {
            r.enqueueShared(batch, i);
            continue;
          }
          // Behind: remember what it last got; it receives ONE merged diff once it drains.
          r.skipShared(batch);
          r.behind ??= d.before;
          batch.behind++;
        }
      }
      this.stats.conflatedDiffs += batch.behind;
      this.ctx.totals.conflatedDiffs += batch.behind;
    }
  }

  private deliverPicture(raw: Uint8Array, isDelta: boolean): void {
    if (this.receivers.size === 0) return;
    const hwm = this.ctx.config.receiverHighWaterBytes;
    const [batch, i] = this.share(ALL, raw);
    for (const r of this.receivers.values()) {
      if (r.queuedBytes > hwm) {
        r.skipShared(batch);
        r.needPicture = true;
        this.stats.skippedFrames++;
        this.ctx.totals.skippedFrames++;
      } else if (isDelta && r.needPicture) {
        // It skipped deltas: send the current picture (which already includes this delta).
        r.skipShared(batch);
        r.enqueue(this.cache.pictureFrame()!);
        r.needPicture = false;
      } else {
        r.enqueueShared(batch, i);
        r.needPicture = false;
      }
    }
  }

  private deliverLog(raw: Uint8Array, offset: number): void {
    if (this.receivers.size === 0) return;
    const max = this.ctx.config.logReceiverMaxBytes;
    const [batch, i] = this.share(ALL, raw);
    for (const r of this.receivers.values()) {
      if (r.logReplay || r.logCursor !== offset) {
        r.skipShared(batch);
        // A replaying receiver reads this record from history at its own pace.
        if (!r.logReplay) this.startLogReplay(r, r.logCursor);
        continue;
      }
      r.enqueueShared(batch, i);
      r.logCursor = offset + 1;
      if (r.queuedBytes > max) {
        this.stats.tooSlowCloses++;
        this.refuse(r, CloseCode.TooSlow, `log receiver fell ${r.queuedBytes} bytes behind; resume from offset ${r.logCursor}`);
      }
    }
  }

  private startLogReplay(r: ReceiverPeer, from: number): void {
    const log = this.cache.log;
    if (from > log.next) {
      // The receiver saw offsets this log never had (the log restarted): say so, then start over.
      r.enqueue(encodeMessage({ kind: 'history-truncated', requested: from, firstAvailable: log.first }));
      from = log.first;
    }
    r.logCursor = from;
    r.logReplay = true;
    this.pumpLog(r);
  }

  /** Sends retained records to a replaying receiver, one high-water mark's worth per turn. */
  private pumpLog(r: ReceiverPeer): void {
    if (r.closed || !r.logReplay) return;
    const log = this.cache.log;
    const limit = this.ctx.config.receiverHighWaterBytes;
    while (r.logCursor < log.next && r.queuedBytes < limit) {
      if (r.logCursor < log.first) {
        r.enqueue(encodeMessage({ kind: 'history-truncated', requested: r.logCursor, firstAvailable: log.first }));
        r.logCursor = log.first;
        continue;
      }
      r.enqueue(log.get(r.logCursor)!);
      r.logCursor++;
    }
    r.logReplay = r.logCursor < log.next;
  }

  /** The receiver's queue went down: send what it missed while behind. */
  onReceiverDrain(r: ReceiverPeer): void {
    if (r.closed || r.queuedBytes > this.ctx.config.receiverHighWaterBytes) return;
    if (r.behind !== undefined) {
      const diff = this.cache.diffSince(r.behind);
      r.behind = undefined;
      const projected = r.filter ? projectDiff(diff, r.filter.tree) : diff;
      if (Object.keys(projected).length > 0) r.enqueue(diffFrame(projected));
      // The merged diff covers the state up to now; the rest of this tick follows it.
      this.followGroup(r);
    }
    if (r.needPicture) {
      const pf = this.cache.pictureFrame();
      if (pf) r.enqueue(pf);
      r.needPicture = false;
    }
    if (r.logReplay) this.pumpLog(r);
  }

  /** Safety net for drains the transport did not report. */
  sweepBehind(): void {
    for (const r of this.receivers.values()) {
      if (r.behind !== undefined || r.needPicture || r.logReplay) this.onReceiverDrain(r);
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
        .filter((r) => r.queuedBytes > 0 || r.behind !== undefined || r.logReplay)
        .slice(0, 100)
        .map((r) => ({ id: r.id, queuedBytes: r.queuedBytes, behind: r.behind !== undefined, logCursor: r.logCursor })),
    };
  }
}
