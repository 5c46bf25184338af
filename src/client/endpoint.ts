/**
 * What sources and views share: one connection, one visible lifecycle and one way to fail.
 *
 *   connecting ──Welcome──▶ live ──drop──▶ reconnecting ──Welcome──▶ live …
 *        │                   │                  │
 *        └──── refusal ──────┴───── refusal ────┴──▶ refused   (fatal; `error` says why)
 *   close() from any state ──▶ closed
 *
 * Every failure is an `error` event carrying a {@link ClientError} that says what happened and
 * what the client does next (`retryInMs`, or `fatal: true`). `when.*` promises reject on refusal
 * and on close; `closed` resolves in both terminal states.
 */
import { CloseCode } from '../protocol/close-codes.js';
import { Flag } from '../protocol/frame-codes.js';
import { HEADER_SIZE } from '../protocol/header.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import type { HelloInfo, WelcomeInfo } from '../protocol/control.js';
import { readU64 } from '../protocol/control.js';
import { utf8Decode } from '../protocol/utf8.js';
import { Connection, defaultClassifier } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { Emitter } from './emitter.js';
import { BadFrameError, ClosedError, ConnectionError } from './errors.js';
import type { ClientError } from './errors.js';
import type { ConnectionRefusedError } from './errors.js';


// Browsers without explicit resource management still get a usable key.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('Symbol.asyncDispose');

/** Where a source or view stands. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'refused';

/** The `state` event's context. `error` is set when a failure caused the change. */
export interface StateChange {
  previous: ConnectionState;
  current: ConnectionState;
  error?: ClientError;
}

/** The Welcome a relay sends first, with the optional fields of this protocol wave. */
export interface Welcome extends WelcomeInfo {
  /** Identifies the relay's copy of the channel's data; a change voids state and log offsets. */
  epoch?: string;
  /** Receivers: this connection created the channel (the relay knew nothing of it). */
  created?: boolean;
  /** Sources: the highest log sequence number the relay has committed for this producer. */
  logAcked?: number;
}

export type EndpointEvents = {
  /** The lifecycle moved (see {@link ConnectionState}). */
  state: [change: StateChange];
  /** Something failed; the error says what the client does next. */
  error: [error: ClientError];
  /** The relay welcomed this connection (every (re)connect). */
  welcome: [welcome: Welcome];
  /** Welcomed and live (every (re)connect). */
  open: [];
  /** The connection closed (it may reconnect: see `state`). */
  close: [info: { code: number; reason: string }];
};

/** LogAck (0xAA, relay → source, payload u64 LE seq). Decoded here until the protocol module has it. */
export const LOG_ACK_TYPE = 0xaa;

export abstract class Endpoint<E extends EndpointEvents> extends Emitter<E> {
  /** Lifecycle state; changes are reported by the `state` event. */
  connectionState: ConnectionState = 'connecting';
  /** Resolves once closed or refused, with the refusal error if any. Never rejects. */
  readonly closed: Promise<ClientError | undefined>;
  /** The relay's Welcome for the current (or last) connection. */
  welcome: Welcome | undefined;
  /** Last error reported (fatal or not). */
  lastError: ClientError | undefined;
  protected readonly conn: Connection;
  /** Welcomed on the current connection. */
  protected welcomed = false;
  /** close() was called. */
  protected closing = false;
  private resolveClosed!: (e: ClientError | undefined) => void;
  private readonly waiters = new Set<{ test: () => boolean; resolve: () => void; reject: (e: Error) => void }>();
  private readonly ev = this as unknown as Emitter<EndpointEvents>;

  constructor(
    url: string | (() => string),
    options: ConnectionOptions,
    private readonly role: 'source' | 'receiver',
  ) {
    super();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.conn = new Connection(url, options);
    this.conn.classify = (code, reason) => this.isFatal(code, reason);
    this.conn.on('open', () => {
      this.welcomed = false;
      // The relay sends a receiver's Welcome and catch-up once it has read the receiver's first
      // frame (or its pong): a Hello right away gets the catch-up one round trip after opening.
      if (this.role === 'receiver') this.conn.send(encodeMessage({ kind: 'hello', hello: this.hello() }));
    });
    this.conn.on('message', (b) => this.onBytes(b));
    this.conn.on('close', (code, reason) => {
      this.welcomed = false;
      this.onDisconnect();
      this.ev.emit('close', { code, reason });
    });
    this.conn.on('retry', (code, reason, delay, wasOpen) => {
      const err = new ConnectionError(wasOpen || code !== 1006 ? 'disconnected' : 'unreachable', code, reason, delay);
      this.setState('reconnecting', err);
      this.report(err);
    });
    this.conn.on('refused', (e) => this.refuse(e));
  }

  /** Starts connecting; subclasses call it at the end of their constructor. */
  protected start(): void {
    this.conn.start();
  }

  // ---------------------------------------------------------------- public

  /** The fatal error that stopped this, if any. */
  get error(): ClientError | undefined {
    return this.conn.error;
  }
  /** Connected (the WebSocket is open). */
  get connected(): boolean {
    return this.conn.connected;
  }
  get latencyMs(): number | undefined {
    return this.conn.latencyMs;
  }
  get reconnects(): number {
    return this.conn.reconnects;
  }
  get frames(): number {
    return this.conn.frames;
  }
  get bytes(): number {
    return this.conn.bytes;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  abstract close(): Promise<void>;

  // ---------------------------------------------------------------- for subclasses

  /**
   * The Hello a receiver sends first on every connection: what it says must hold on each new
   * connection (the relay keeps nothing of a previous one).
   */
  protected hello(): HelloInfo {
    return { client: 'sluice-js' };
  }

  /** Which close codes end this for good. */
  protected isFatal(code: number, reason: string): boolean {
    // A 4400 before the Welcome is a refused handshake (bad channel name, bad query): retrying cannot fix it.
    if (code === CloseCode.BadFrame && !this.welcomed) return true;
    return defaultClassifier(code, reason);
  }

  /** A decoded frame other than Welcome (and other than an Error before the Welcome). */
  protected abstract onFrame(m: Message, bytes: Uint8Array): void;
  /** Called after the Welcome has been recorded and before the state becomes `live`. */
  protected onWelcome(_w: Welcome, _previous: Welcome | undefined): void {}
  /** LogAck from the relay. */
  protected onLogAck(_seq: number): void {}
  /** The connection dropped (it may come back). */
  protected onDisconnect(): void {}
  /** Terminal: refused or closed. */
  protected onEnd(_error: ClientError): void {}

  protected report(e: ClientError): void {
    this.lastError = e;
    this.ev.emit('error', e);
  }

  protected setState(next: ConnectionState, error?: ClientError): void {
    const previous = this.connectionState;
    if (previous === next || previous === 'closed' || previous === 'refused') return;
    this.connectionState = next;
    this.ev.emit('state', error ? { previous, current: next, error } : { previous, current: next });
    this.recheck();
  }

  /** A promise that resolves once `test()` holds (checked on every state change and `recheck()`). */
  protected waitFor(test: () => boolean, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    if (this.connectionState === 'refused') return Promise.reject(this.conn.error ?? new ClosedError(what));
    if (this.connectionState === 'closed') return Promise.reject(new ClosedError(what));
    return new Promise((resolve, reject) => this.waiters.add({ test, resolve, reject }));
  }

  protected recheck(): void {
    for (const w of [...this.waiters]) {
      if (w.test()) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Ends for good by the caller's wish: state `closed`, waiters rejected. */
  protected async closeEndpoint(flush?: () => void): Promise<void> {
    if (this.connectionState === 'closed' || this.connectionState === 'refused') return this.conn.close();
    flush?.();
    this.closing = true;
    const done = this.conn.close();
    this.end('closed', new ClosedError(this.role === 'source' ? 'source' : 'view'));
    await done;
    this.resolveClosed(undefined);
  }

  private refuse(e: ConnectionRefusedError): void {
    this.report(e);
    this.end('refused', e);
    this.resolveClosed(e);
  }

  private end(state: 'closed' | 'refused', error: ClientError): void {
    this.setState(state, state === 'refused' ? error : undefined);
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w.reject(error);
    this.onEnd(error);
  }

  private onBytes(bytes: Uint8Array): void {
    if (bytes[0] === LOG_ACK_TYPE && bytes.length === HEADER_SIZE + 8 && (bytes[1]! & Flag.Input) === 0) {
      this.conn.markHealthy();
      this.onLogAck(readU64(new DataView(bytes.buffer, bytes.byteOffset + HEADER_SIZE, 8), 0));
      return;
    }
    let m: Message;
    try {
      // What the relay sends is bounded by the relay; a merged state may exceed the 1 MiB default.
      m = decodeMessage(bytes, { maxPayload: 1 << 30, maxJsonPayload: 1 << 30 });
    } catch (e) {
      this.report(new BadFrameError(`undecodable frame from the relay: ${(e as Error).message}`, { cause: e }));
      return;
    }
    if (m.kind === 'welcome') {
      const previous = this.welcome;
      const w: Welcome = { ...m.welcome, ...welcomeExtras(bytes) };
      this.welcome = w;
      this.welcomed = true;
      this.onWelcome(w, previous);
      this.ev.emit('welcome', w);
      if (!this.conn.connected) return; // onWelcome reconnected
      this.setState('live');
      this.ev.emit('open');
      return;
    }
    // Before the Welcome, an Error frame announces the close that follows: the refusal reports it.
    if (m.kind === 'error' && !this.welcomed) return;
    this.onFrame(m, bytes);
  }
}

/** `epoch`, `created` and `logAcked` from a Welcome's JSON (the codec may not keep them yet). */
function welcomeExtras(bytes: Uint8Array): Pick<Welcome, 'epoch' | 'created' | 'logAcked'> {
  const out: Pick<Welcome, 'epoch' | 'created' | 'logAcked'> = {};
  try {
    const o = JSON.parse(utf8Decode(bytes.subarray(HEADER_SIZE))) as Record<string, unknown>;
    if (typeof o.epoch === 'string') out.epoch = o.epoch;
    if (typeof o.created === 'boolean') out.created = o.created;
    if (Number.isSafeInteger(o.logAcked) && (o.logAcked as number) >= 0) out.logAcked = o.logAcked as number;
  } catch {
    // decodeMessage accepted it, so this cannot fail; stay silent if it ever does.
  }
  return out;
}
