/**
 * One connection as the relay sees it: a role, a bounded outbound queue measured in bytes, an
 * inbound rate limit and a liveness clock.
 *
 * The queue holds private frames and references to ranges of per-tick shared batches. A
 * reference stays open while the peer takes every frame appended to its batch, so a receiver
 * that gets all 500 frames of a tick holds ONE queue item and costs ONE socket write.
 */
import type { Logger } from 'pino';
import type { Role } from '../protocol/control.js';
import { encodeMessage } from '../protocol/message.js';
import type { FlushScheduler } from './flush-scheduler.js';
import type { BatchFollower, SharedBatch } from './shared-batch.js';
import type { PeerConnection } from './transport.js';

/** What peers need from the relay: the flush scheduler and the transport's framing. */
export interface PeerContext {
  scheduler: FlushScheduler;
  /** Frames a protocol message for the transport (e.g. adds the WebSocket header). */
  frame(payload: Uint8Array): Uint8Array;
}

interface SharedRef {
  batch: SharedBatch;
  from: number;
  /** Exclusive end; -1 while open (the peer takes frames as they are appended). */
  to: number;
}

type QueueItem = Uint8Array | SharedRef;

/** A connection that gets more than this many times its frame rate in one second is closed (4429). */
export const HARD_RATE_FACTOR = 10;

export abstract class Peer implements BatchFollower {
  abstract readonly role: Role;
  private queue: QueueItem[] = [];
  private queueBytes = 0;
  private queued = false;
  private openRef: SharedRef | undefined;
  /** Time of the last frame or pong from the peer. */
  lastSeen = Date.now();
  /** When the connection was attached (ms since epoch), for the operations console. */
  readonly connectedAt = this.lastSeen;
  closed = false;
  /** Being refused: its Error frame is queued and the close follows (refused once). */
  refused = false;
  /** Accepts Batch messages: a tick's shared frames go out as one transport message. */
  batching = false;
  /** When this connection's token expires (ms since epoch); it is closed with 4401 then. */
  expiresAt: number | undefined;
  /**
   * Bound on bytes queued for this peer by frames only it gets (errors, pongs, RPC results…);
   * past it `overflow` runs (the relay closes the peer with 4413). Shared frames are bounded by
   * each content kind's own policy before they get here.
   */
  queueLimit = Infinity;
  overflow: (() => void) | undefined;
  private windowStart = 0;
  private windowCount = 0;
  private paused = false;
  private overflowed = false;

  private childLog: Logger | undefined;

  constructor(
    readonly id: number,
    readonly conn: PeerConnection,
    /** The relay's logger and this connection's bindings; the child logger is made on first use. */
    private readonly parentLog: Logger,
    private readonly bindings: () => Record<string, unknown>,
    private readonly ctx: PeerContext,
    /** Called with (frames, bytes) after each flush, for channel stats. */
    private readonly onFlushed: (frames: number, bytes: number) => void,
  ) {}

  /** This connection's logger (a pino child with its bindings), created lazily: idle peers cost no logger. */
  get log(): Logger {
    return (this.childLog ??= this.parentLog.child(this.bindings()));
  }

  /** Bytes waiting for this peer: our queue plus what the socket has not written yet. */
  get queuedBytes(): number {
    return this.queueBytes + this.conn.bufferedAmount;
  }

  private schedule(): void {
    if (!this.queued) {
      this.queued = true;
      this.ctx.scheduler.schedule(this);
    }
  }

  /** Queues a frame for this peer only. */
  enqueue(frame: Uint8Array): void {
    if (this.closed) return;
    this.interruptRef();
    this.queue.push(this.conn.acceptsFramed ? this.ctx.frame(frame) : frame);
    this.queueBytes += frame.length;
    this.schedule();
    // Past the bound with what was queued before this frame (one frame, e.g. a large catch-up
    // sync, always fits: the queue stays under the bound plus one frame).
    if (this.queueBytes + this.conn.bufferedAmount - frame.length > this.queueLimit && !this.overflowed) {
      this.overflowed = true;
      this.overflow?.();
    }
  }

  /** Makes sure this peer is flushed this tick (its beforeFlush hook may have something to add). */
  protected requestFlush(): void {
    if (!this.closed) this.schedule();
  }

  /** Hook for subclasses: last frames to queue before a flush (e.g. a coalesced acknowledgement). */
  protected beforeFlush(): void {}

  /**
   * Follows a shared batch from frame `index` on: this frame and every frame appended to the
   * batch later in the tick are this peer's, until skipShared() or another frame interrupts.
   */
  enqueueShared(batch: SharedBatch, index: number): void {
    this.follow(batch, index);
  }

  /** Follows a shared batch from its next frame on (a peer that joins an audience mid-tick). */
  joinShared(batch: SharedBatch): void {
    this.skippedBatches?.delete(batch);
    this.follow(batch, batch.length);
  }

  private follow(batch: SharedBatch, from: number): void {
    if (this.closed || this.openRef?.batch === batch) return; // closed, or already following it
    this.interruptRef();
    const fresh: SharedRef = { batch, from, to: -1 };
    this.queue.push(fresh);
    this.openRef = fresh;
    this.queueBytes += batch.frames[from]?.length ?? 0;
    this.schedule();
  }

  /** Called by a batch when this peer was interrupted and the batch got its next frame. */
  resumeShared(batch: SharedBatch, index: number): void {
    if (this.skippedBatches?.has(batch)) return; // it left this audience for the tick (behind)
    this.enqueueShared(batch, index);
  }

  /** Stops following a batch: frames appended to it from now on are not for this peer. */
  skipShared(batch: SharedBatch): void {
    // Weak: a receiver that stays behind is never flushed, and must not pin every tick's frames.
    (this.skippedBatches ??= new WeakSet()).add(batch);
    if (this.openRef?.batch === batch) this.closeRef(batch.length - 1);
  }
  private skippedBatches: WeakSet<SharedBatch> | undefined;

  /** Ends the open reference here; the batch re-attaches this peer at its next frame. */
  private interruptRef(): void {
    const ref = this.openRef;
    if (ref === undefined) return;
    this.closeRef();
    ref.batch.waiters.push(this);
  }

  private closeRef(end?: number): void {
    const ref = this.openRef;
    if (ref === undefined) return;
    ref.to = end ?? ref.batch.length;
    this.openRef = undefined;
  }

  flush(): void {
    this.beforeFlush();
    this.queued = false;
    this.closeRef();
    this.skippedBatches = undefined;
    const items = this.queue;
    if (items.length === 0) return;
    this.queue = [];
    this.queueBytes = 0;
    if (this.closed || !this.conn.isOpen) return;
    let frames = 0;
    let bytes = 0;
    const conn = this.conn;
    const write = () => {
      for (const item of items) {
        if (item instanceof Uint8Array) {
          frames++;
          bytes += item.length;
          if (conn.acceptsFramed) conn.writeFramed(item);
          else conn.send(item);
          continue;
        }
        const { batch, from, to } = item;
        if (to <= from) continue;
        frames += to - from;
        if (conn.acceptsFramed && (this.batching || conn.concatenable)) {
          const slice = this.batching ? batch.sliceBatched(from, to, this.ctx.frame) : batch.slice(from, to);
          bytes += slice.length;
          conn.writeFramed(slice);
        } else if (conn.acceptsFramed)
          for (let i = from; i < to; i++) {
            bytes += batch.framed[i]!.length;
            conn.writeFramed(batch.framed[i]!);
          }
        else
          for (let i = from; i < to; i++) {
            bytes += batch.frames[i]!.length;
            conn.send(batch.frames[i]!);
          }
      }
    };
    if (items.length === 1 && conn.acceptsFramed) write();
    else conn.batch(write);
    this.onFlushed(frames, bytes);
    this.afterFlush();
  }

  /** Hook for subclasses (log replay pacing). */
  protected afterFlush(): void {}

  /**
   * Counts an inbound frame. Past `limit` frames in the current second the relay stops reading
   * this socket until the second is over: TCP flow control slows the sender, and nothing it sent
   * is dropped (frames already read are still handled).
   */
  admitFrame(limit: number, now: number): boolean {
    this.lastSeen = now;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    const n = ++this.windowCount;
    if (n <= limit) return true;
    // Abuse ceiling, far above any burst push-back lets through (only frames already read
    // from the socket arrive while it is paused): the connection is closed with 4429.
    if (n > HARD_RATE_FACTOR * limit) return false;
    if (this.paused || this.closed) return true;
    this.paused = true;
    this.conn.pause();
    setTimeout(() => {
      this.paused = false;
      if (!this.closed) this.conn.resume();
    }, Math.max(1, this.windowStart + 1000 - now)).unref();
    return true;
  }

  /** True while reading is paused by the inbound rate limit. */
  get readPaused(): boolean {
    return this.paused;
  }

  /** Sends immediately, ahead of the queue (pongs, so RTT measures the network, not the queue). */
  sendNow(frame: Uint8Array): void {
    if (!this.closed) this.conn.send(frame);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.queue = [];
    this.queueBytes = 0;
    this.openRef = undefined;
    // Reading paused by the inbound rate limit would keep the peer's close frame unread, and the
    // close handshake (and a graceful shutdown) waiting until its deadline.
    if (this.paused) {
      this.paused = false;
      this.conn.resume();
    }
    this.conn.close(code, reason);
  }
}

export class SourcePeer extends Peer {
  readonly role = 'source' as const;
  /** Log producer id from `?producer=` (records carry its sequence numbers). */
  producer: string | undefined;
  /** When its upgrade request arrived: of two takeovers on different relay nodes, the later wins. */
  requestedAt = Date.now();
  /** Its Welcome went out: the engine admitted it (a shared engine first takes the channel's lease). */
  welcomed = false;
  /** Highest producer sequence number committed and not yet acknowledged. */
  private ackSeq = -1;

  /** Acknowledges producer records up to `seq`; one LogAck per tick carries the highest. */
  ack(seq: number): void {
    if (seq <= this.ackSeq) return;
    this.ackSeq = seq;
    this.requestFlush();
  }

  protected override beforeFlush(): void {
    if (this.ackSeq < 0) return;
    const seq = this.ackSeq;
    this.ackSeq = -1;
    this.enqueue(encodeMessage({ kind: 'log-ack', logAcked: seq }));
  }
}

export class SignalPeer extends Peer {
  readonly role = 'signal' as const;
}
