/**
 * A self-healing connection to one relay URL: reconnects with exponential backoff and full
 * jitter, measures round-trip time with Ping frames, detects a silent relay, and stops for good
 * on the close codes that mean "do not retry" (4401, 4403, 4404; the owner may add more through
 * `classify`). Internal to the SDK: apps use `source()` and `subscribe()`.
 *
 * Backoff grows with every failed attempt and is reset only once a connection proved healthy
 * (the owner called `markHealthy()` because data arrived, or it stayed open `stableAfterMs`), never
 * merely because the WebSocket handshake succeeded: a relay that refuses right after the handshake
 * must not be hammered twice a second.
 */
import { CloseCode, isRetryableClose } from '../protocol/close-codes.js';
import { FrameType } from '../protocol/frame-codes.js';
import { encodeFrame, readHeader } from '../protocol/header.js';
import { splitBatch } from '../protocol/message.js';
import { backoffDelay } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { ConnectionRefusedError } from './errors.js';
import { resolveWebSocket } from './websocket.js';
import type { WebSocketCtor, WebSocketLike } from './websocket.js';

export interface ConnectionOptions {
  /** Bearer token, sent as `?token=`. */
  token?: string;
  backoff?: BackoffOptions;
  /** Ping interval for RTT and liveness (ms). Default 5000. */
  pingIntervalMs?: number;
  /** Reconnect after retryable closes. Default true. */
  reconnect?: boolean;
  /** WebSocket implementation (defaults to the global one, or `ws` on Node 20). */
  WebSocket?: WebSocketCtor;
  /** A connection that stayed open this long counts as healthy: backoff starts over. Default 5000. */
  stableAfterMs?: number;
}

/** Decides whether a close code ends the connection for good (true) or is retried (false). */
export type CloseClassifier = (code: number, reason: string) => boolean;

/** The default rule: the close-code table's non-retryable codes are fatal (a 1000 from the relay is retried). */
export const defaultClassifier: CloseClassifier = (code) => !isRetryableClose(code) && code !== 1000;

export type ConnectionEvents = {
  open: [];
  message: [bytes: Uint8Array];
  close: [code: number, reason: string];
  /** A failed attempt or a dropped connection; the next attempt starts in `delayMs`. */
  retry: [code: number, reason: string, delayMs: number, wasOpen: boolean];
  /** Fatal: the connection will not retry. */
  refused: [error: ConnectionRefusedError];
  latency: [ms: number];
};

export class Connection extends Emitter<ConnectionEvents> {
  connected = false;
  latencyMs: number | undefined;
  reconnects = 0;
  frames = 0;
  bytes = 0;
  /** Set once the connection stopped for good. */
  error: ConnectionRefusedError | undefined;
  private ws: WebSocketLike | undefined;
  private attempt = 0;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private pingSeq = 0;
  private openedAt = 0;
  private healthy = false;
  private readonly urlFor: () => string;
  /** Which close codes are fatal; the owner may replace it (e.g. a source refuses 4409 for good). */
  classify: CloseClassifier = defaultClassifier;

  /** `url` may be a function: it is called before every (re)connect (e.g. to add `?resume=`). */
  constructor(
    url: string | (() => string),
    private readonly options: ConnectionOptions = {},
  ) {
    super();
    const base = typeof url === 'string' ? () => url : url;
    const token = options.token;
    this.urlFor = token ? () => withParam(base(), 'token', token) : base;
  }

  start(): void {
    void this.open();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let Ctor: WebSocketCtor;
    try {
      Ctor = await resolveWebSocket(this.options.WebSocket);
    } catch (e) {
      this.fail(new ConnectionRefusedError(0, `no WebSocket implementation: ${(e as Error).message}`));
      return;
    }
    if (this.stopped) return;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.urlFor());
    } catch (e) {
      this.fail(new ConnectionRefusedError(CloseCode.BadFrame, `invalid URL: ${(e as Error).message}`));
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.connected = true;
      // Not `attempt = 0` here: see the module comment.
      this.healthy = false;
      this.openedAt = Date.now();
      this.lastHeard = Date.now();
      // 'open' first: a receiver's Hello must be the relay's first frame from it, since that frame
      // shapes its catch-up (a Hello with `media: false` joins without the picture).
      this.emit('open');
      if (this.ws === ws) this.startPing();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      const data = ev.data;
      if (typeof data === 'string') return; // the protocol is binary on these paths
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
      if (!bytes) return;
      this.frames++;
      this.bytes += bytes.length;
      if (bytes.length >= 16 && bytes[0] === FrameType.Pong) {
        const h = readHeader(bytes);
        const rtt = ((Date.now() >>> 0) - h.timestamp + 0x100000000) % 0x100000000;
        if (rtt < 600_000) {
          this.latencyMs = rtt;
          this.emit('latency', rtt);
        }
        return;
      }
      if (bytes[0] === FrameType.Batch && bytes.length >= 16 && (bytes[1]! & 0x01) === 0) {
        let frames: Uint8Array[];
        try {
          frames = splitBatch(bytes.subarray(16), { maxPayload: 1 << 30, maxJsonPayload: 1 << 30 });
        } catch {
          this.emit('message', bytes); // let the consumer report the bad frame
          return;
        }
        for (const f of frames) this.emit('message', f);
        return;
      }
      this.emit('message', bytes);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      const wasConnected = this.connected;
      this.connected = false;
      this.stopPing();
      if (wasConnected || ev.code !== 1006) this.emit('close', ev.code, ev.reason);
      if (this.stopped) return;
      if (this.classify(ev.code, ev.reason)) {
        this.fail(new ConnectionRefusedError(ev.code, ev.reason));
        return;
      }
      if (this.options.reconnect === false) {
        // Not silent either: the owner learns that this connection ended for good.
        this.fail(new ConnectionRefusedError(ev.code, `${ev.reason || 'connection closed'}; reconnect is off`));
        return;
      }
      this.scheduleRetry(ev.code, ev.reason, wasConnected);
    };
  }

  /** The owner saw this connection work (data arrived): the next failure retries from the first backoff step. */
  markHealthy(): void {
    if (this.connected) this.healthy = true;
  }

  private scheduleRetry(code: number, reason: string, wasOpen: boolean): void {
    const stable = this.options.stableAfterMs ?? 5000;
    if (this.healthy || (wasOpen && Date.now() - this.openedAt >= stable)) this.attempt = 0;
    this.healthy = false;
    const delay = backoffDelay(this.attempt++, this.options.backoff);
    this.emit('retry', code, reason, delay, wasOpen);
    if (this.stopped) return; // a listener closed us
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.reconnects++;
      void this.open();
    }, delay);
  }

  private fail(error: ConnectionRefusedError): void {
    this.stopped = true;
    this.error = error;
    this.emit('refused', error);
  }

  private startPing(): void {
    const every = this.options.pingIntervalMs ?? 5000;
    this.sendPing();
    this.pingTimer = setInterval(() => {
      // A relay silent for three intervals is gone (a browser cannot see WebSocket-level pings).
      if (Date.now() - this.lastHeard > every * 3) {
        this.ws?.close(4000, 'relay silent');
        this.dropSocket();
        return;
      }
      this.sendPing();
    }, every);
    (this.pingTimer as { unref?: () => void }).unref?.();
  }

  private sendPing(): void {
    this.send(encodeFrame({ type: FrameType.Ping, seq: this.pingSeq++ & 0xffff, timestamp: Date.now() >>> 0 }));
  }

  private stopPing(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  // Treat a half-open socket as closed now instead of waiting for TCP to notice.
  private dropSocket(): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = undefined;
    this.connected = false;
    this.stopPing();
    this.emit('close', 1006, 'relay silent');
    if (!this.stopped) this.scheduleRetry(1006, 'relay silent', true);
  }

  /**
   * Drops the current socket and connects again at once (no backoff, no retry event): used when the
   * owner learns on Welcome that its resume point is void (the relay's epoch changed).
   */
  reconnectNow(): void {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    this.ws = undefined;
    this.connected = false;
    this.stopPing();
    ws.onclose = null;
    ws.onmessage = null;
    ws.close(1000, 'reconnecting');
    this.emit('close', 1000, 'reconnecting');
    this.reconnects++;
    void this.open();
  }

  /** Bytes queued on the socket and not yet sent (0 when not connected). */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** Sends bytes if connected; returns false otherwise. */
  send(bytes: Uint8Array): boolean {
    const ws = this.ws;
    if (!ws || !this.connected || ws.readyState !== 1) return false;
    ws.send(bytes);
    return true;
  }

  /**
   * Closes for good (no reconnect). Frames already sent are delivered before the close; the
   * promise resolves once the socket has closed (or after `timeoutMs`).
   */
  close(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.stopPing();
    const ws = this.ws;
    this.ws = undefined;
    const was = this.connected;
    this.connected = false;
    if (was) this.emit('close', 1000, 'client closed');
    if (!ws) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      (timer as { unref?: () => void }).unref?.();
      ws.onclose = () => {
        clearTimeout(timer);
        resolve();
      };
      ws.close(1000, 'client closed');
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

/** Appends a query parameter to a URL string. */
export function withParam(url: string, name: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}
