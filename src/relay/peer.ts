/**
 * One connection as the relay sees it: a role, a bounded outbound queue measured in bytes, an
 * inbound rate limit and a liveness clock.
 */
import type { Logger } from 'pino';
import type { Role } from '../protocol/control.js';
import type { FlushScheduler } from './flush-scheduler.js';
import type { PeerConnection } from './transport.js';

export abstract class Peer {
  abstract readonly role: Role;
  private queue: Uint8Array[] = [];
  private queueBytes = 0;
  private queued = false;
  /** Time of the last frame or pong from the peer. */
  lastSeen = Date.now();
  framesOut = 0;
  bytesOut = 0;
  closed = false;
  private windowStart = 0;
  private windowCount = 0;

  constructor(
    readonly id: number,
    readonly conn: PeerConnection,
    readonly log: Logger,
    private readonly scheduler: FlushScheduler,
    /** Called with (frames, bytes) after each flush, for channel stats. */
    private readonly onFlushed: (frames: number, bytes: number) => void,
  ) {}

  /** Bytes waiting for this peer: our queue plus what the socket has not written yet. */
  get queuedBytes(): number {
    return this.queueBytes + this.conn.bufferedAmount;
  }

  enqueue(frame: Uint8Array): void {
    if (this.closed) return;
    this.queue.push(frame);
    this.queueBytes += frame.length;
    if (!this.queued) {
      this.queued = true;
      this.scheduler.schedule(this);
    }
  }

  flush(): void {
    this.queued = false;
    const frames = this.queue;
    if (frames.length === 0) return;
    const bytes = this.queueBytes;
    this.queue = [];
    this.queueBytes = 0;
    if (this.closed || !this.conn.isOpen) return;
    this.conn.batch(() => {
      for (const f of frames) this.conn.send(f);
    });
    this.framesOut += frames.length;
    this.bytesOut += bytes;
    this.onFlushed(frames.length, bytes);
    this.afterFlush();
  }

  /** Hook for subclasses (log replay pacing). */
  protected afterFlush(): void {}

  /** Counts an inbound frame; false when the peer exceeded `limit` frames in the current second. */
  admitFrame(limit: number, now: number): boolean {
    this.lastSeen = now;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    return ++this.windowCount <= limit;
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
    this.conn.close(code, reason);
  }
}

export class SourcePeer extends Peer {
  readonly role = 'source' as const;
}

export class SignalPeer extends Peer {
  readonly role = 'signal' as const;
}
