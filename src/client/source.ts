/**
 * A source publishes one state object into a channel. Mutations made in one tick leave as ONE
 * SignalDiff (microtask batching); fields not listed in `output` never leave the process; a
 * (re)connect sends SchemaAnnounce + a full SignalSync. Receivers' inputs, actions and RPC calls
 * arrive here with the sender's connection id.
 */
import { Flag, FrameType } from '../protocol/frame-codes.js';
import { encodeFrame } from '../protocol/header.js';
import { DeltaEncoder } from '../protocol/delta-codec.js';
import type { InputEvent } from '../protocol/inputs.js';
import { diffStates } from '../protocol/merge-patch.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { compileSelect, projectState } from '../protocol/select.js';
import type { SelectTree } from '../protocol/select.js';
import { utf8Encode } from '../protocol/utf8.js';
import type { JsonObject, JsonValue } from '../protocol/utf8.js';
import { Connection } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { Emitter } from './emitter.js';
import type { ConnectionRefusedError } from './errors.js';

export interface SourceOptions<T extends object> extends ConnectionOptions {
  /** Initial state. */
  initial?: T;
  /** Public fields (top-level names or dotted paths); others never leave the process. Default: all. */
  output?: ReadonlyArray<string>;
  /** At most one diff per this many ms; changes in between merge into it. Default 0 (every tick). */
  throttleMs?: number;
  /** Announced mode: `signal` (state, default) or `pixel`. */
  mode?: 'signal' | 'pixel';
}

export type RpcHandler = (params: JsonValue | undefined, sender: number) => JsonValue | undefined | Promise<JsonValue | undefined>;

export type SourceEvents = {
  input: [event: InputEvent, sender: number];
  action: [action: JsonValue, sender: number];
  open: [];
  close: [code: number, reason: string];
  error: [error: Error];
};

type Plain = Record<string, unknown>;

export class Source<T extends object = Plain> extends Emitter<SourceEvents> {
  /** Mutate this like a plain object; changes are batched and published. */
  readonly state: T;
  private current: Plain;
  private lastSent: JsonObject | undefined;
  private readonly conn: Connection;
  private readonly output: SelectTree | undefined;
  private scheduled = false;
  private throttleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAt = 0;
  private seq = 0;
  private readonly rpc = new Map<string, RpcHandler>();
  private readonly proxies = new WeakMap<object, unknown>();
  private readonly targets = new WeakMap<object, object>();
  private pixelEncoder: DeltaEncoder | undefined;
  private onlineWaiters: Array<() => void> = [];
  /** Diffs sent (for tests and stats). */
  diffsSent = 0;

  constructor(
    url: string,
    private readonly options: SourceOptions<T> = {},
  ) {
    super();
    this.current = structuredClone((options.initial ?? {}) as Plain);
    this.output = options.output ? compileSelect([...options.output]) : undefined;
    this.state = this.proxy(this.current) as T;
    this.conn = new Connection(url, options);
    this.conn.on('open', () => this.onOpen());
    this.conn.on('message', (b) => this.onMessage(b));
    this.conn.on('close', (code, reason) => this.emit('close', code, reason));
    this.conn.on('refused', (e) => this.emit('error', e));
    this.conn.start();
  }

  get connected(): boolean {
    return this.conn.connected;
  }
  get latencyMs(): number | undefined {
    return this.conn.latencyMs;
  }
  get reconnects(): number {
    return this.conn.reconnects;
  }
  get error(): ConnectionRefusedError | undefined {
    return this.conn.error;
  }

  /** Promises for lifecycle moments: `when.online()` resolves once connected to the relay. */
  readonly when = {
    online: (): Promise<void> => (this.conn.connected ? Promise.resolve() : new Promise((resolve) => this.onlineWaiters.push(resolve))),
  };

  /** The current state (a plain object; do not mutate it — use `state`, `set` or `update`). */
  get(): T {
    return this.current as T;
  }

  /** Merges `patch` into the state at the top level. */
  set(patch: Partial<T>): void {
    Object.assign(this.state, patch);
  }

  /** Runs `fn` with the mutable state. */
  update(fn: (state: T) => void): void {
    fn(this.state);
  }

  /** Replaces the whole state. */
  replace(next: T): void {
    this.current = structuredClone(next as Plain);
    (this as { state: T }).state = this.proxy(this.current) as T;
    this.schedule();
  }

  /** Registers a handler for RPC `method`, called by receivers with `view.call(method, params)`. */
  handle(method: string, fn: RpcHandler): () => void {
    this.rpc.set(method, fn);
    return () => this.rpc.delete(method);
  }

  /** Sends any frame as is (audio, custom media…). Returns false when not connected. */
  publishFrame(frame: Message | Uint8Array): boolean {
    return this.conn.send(frame instanceof Uint8Array ? frame : encodeMessage({ seq: this.nextSeq(), timestamp: Date.now() >>> 0, ...frame }));
  }

  /** Publishes an RGBA frame, as a delta against the previous one when that is smaller. */
  publishPixels(width: number, height: number, rgba: Uint8Array): boolean {
    this.pixelEncoder ??= new DeltaEncoder();
    if (!this.conn.connected) {
      this.pixelEncoder.reset();
      return false;
    }
    const { keyframe, data } = this.pixelEncoder.encode(rgba);
    const type = keyframe ? FrameType.Pixels : FrameType.DeltaPixels;
    return this.conn.send(encodeFrame({ type, flags: keyframe ? Flag.Keyframe : 0, seq: this.nextSeq(), timestamp: Date.now() >>> 0, width, height }, data));
  }

  /** Sends pending changes now instead of at the end of the tick. */
  flush(): void {
    this.scheduled = false;
    if (!this.conn.connected || this.lastSent === undefined) return;
    const next = this.publicState();
    const diff = diffStates(this.lastSent, next);
    if (Object.keys(diff).length === 0) return;
    this.lastSent = next;
    this.lastFlushAt = Date.now();
    this.diffsSent++;
    this.conn.send(encodeFrame({ type: FrameType.SignalDiff, seq: this.nextSeq(), timestamp: Date.now() >>> 0 }, utf8Encode(JSON.stringify(diff))));
  }

  /** Sends pending changes, then closes; resolves once the connection has closed. */
  close(): Promise<void> {
    this.flush();
    if (this.throttleTimer !== undefined) clearTimeout(this.throttleTimer);
    return this.conn.close();
  }

  // ------------------------------------------------------------------ internals

  private nextSeq(): number {
    return (this.seq = (this.seq + 1) & 0xffff);
  }

  private publicState(): JsonObject {
    // A deep copy: later in-place mutations must not alter what we compare against.
    const plain = structuredClone(this.current) as JsonObject;
    return this.output ? projectState(plain, this.output) : plain;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const throttle = this.options.throttleMs ?? 0;
    const wait = throttle > 0 ? this.lastFlushAt + throttle - Date.now() : 0;
    if (wait > 0) {
      this.throttleTimer ??= setTimeout(() => {
        this.throttleTimer = undefined;
        this.flush();
      }, wait);
    } else queueMicrotask(() => this.scheduled && this.flush());
  }

  private onOpen(): void {
    const state = this.publicState();
    const signals = this.options.output ? [...this.options.output] : Object.keys(state);
    this.conn.send(encodeMessage({ kind: 'schema-announce', schema: { signals, mode: this.options.mode ?? 'signal' } }));
    this.conn.send(encodeMessage({ kind: 'signal-sync', state, seq: this.nextSeq(), timestamp: Date.now() >>> 0 }));
    this.lastSent = state;
    this.pixelEncoder?.reset();
    this.emit('open');
    const waiters = this.onlineWaiters;
    this.onlineWaiters = [];
    for (const w of waiters) w();
  }

  private onMessage(bytes: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      this.emit('error', e as Error);
      return;
    }
    const sender = m.sender ?? 0;
    if (m.kind === 'input') {
      this.emit('input', m.event, sender);
      if (m.event.input === 'action') this.emit('action', m.event.action, sender);
    } else if (m.kind === 'rpc-call') void this.answer(m.call.id, m.call.method, m.call.params, sender);
  }

  private async answer(id: string | number, method: string, params: JsonValue | undefined, sender: number): Promise<void> {
    const fn = this.rpc.get(method);
    let reply: Message;
    if (!fn) reply = { kind: 'rpc-result', sender, result: { id, error: { code: 'not-found', message: `no handler for "${method}"` } } };
    else {
      try {
        const result = await fn(params, sender);
        reply = { kind: 'rpc-result', sender, result: result === undefined ? { id } : { id, result } };
      } catch (e) {
        reply = { kind: 'rpc-result', sender, result: { id, error: { code: 'handler-failed', message: (e as Error).message ?? String(e) } } };
      }
    }
    this.conn.send(encodeMessage(reply));
  }

  /** A deep proxy: any set/delete at any depth schedules a flush. */
  private proxy(target: object): unknown {
    const existing = this.proxies.get(target);
    if (existing) return existing;
    const p = new Proxy(target, {
      get: (t, key, recv) => {
        const v = Reflect.get(t, key, recv) as unknown;
        return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) ? this.proxy(v) : v;
      },
      set: (t, key, value: unknown, recv) => {
        // Store plain data, never our own proxies (they cannot be cloned or sent).
        const plain = typeof value === 'object' && value !== null ? (this.targets.get(value) ?? value) : value;
        const ok = Reflect.set(t, key, plain, recv);
        this.schedule();
        return ok;
      },
      deleteProperty: (t, key) => {
        const ok = Reflect.deleteProperty(t, key);
        this.schedule();
        return ok;
      },
    });
    this.proxies.set(target, p);
    this.targets.set(p, target);
    return p;
  }
}

/** Creates a source publishing to `url` (e.g. `ws://localhost:9100/source/counter`). */
export function source<T extends object = Plain>(url: string, options: SourceOptions<T> = {}): Source<T> {
  return new Source<T>(url, options);
}
