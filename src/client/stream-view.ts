/**
 * A live view of a channel: `get()` returns the current state (the same reference until something
 * changes), `subscribe(cb)` reports changed paths, async iteration yields each new state, and
 * `send()` / `call()` talk back to the source. Select is enforced by the relay and again here;
 * a Standard Schema (zod, valibot, arktype…) validates every new state.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { applyDeltaInPlace } from '../protocol/delta-codec.js';
import type { InputEvent } from '../protocol/inputs.js';
import { LogStream } from '../protocol/control.js';
import type { LogStreamName, WelcomeInfo } from '../protocol/control.js';
import { applyDiff, diffStates } from '../protocol/merge-patch.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { compileSelect, parseSelect, projectState } from '../protocol/select.js';
import type { SelectTree } from '../protocol/select.js';
import { isJsonObject } from '../protocol/utf8.js';
import type { JsonObject, JsonValue } from '../protocol/utf8.js';
import { Connection, withParam } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { Emitter } from './emitter.js';
import { BadFrameError, RelayError, RpcError, SchemaValidationError } from './errors.js';
import type { SluiceError } from '../protocol/errors.js';

export interface SubscribeOptions<T> extends ConnectionOptions {
  /** Fields to receive: top-level names and dotted paths. Default: everything. */
  select?: ReadonlyArray<string> | string;
  /** A Standard Schema; incoming state is validated and typed by it. */
  schema?: StandardSchemaV1<unknown, T>;
  /** Log channels: the next offset wanted (resumes exactly where a previous view stopped). */
  resumeFrom?: number;
  /** RPC timeout (ms). Default 10000. */
  rpcTimeoutMs?: number;
  /** Let the relay pack a turn's messages into one Batch message (fewer, larger writes). Default true. */
  batch?: boolean;
}

export interface PixelFrame {
  width: number;
  height: number;
  /** The receiver's RGBA buffer; it is reused and updated in place by later frames. */
  rgba: Uint8Array;
}

export interface LogRecordEvent {
  offset: number;
  time: number;
  stream: LogStreamName;
  data: Uint8Array;
  /** `data` as UTF-8 text. */
  text: string;
}

export type StreamViewEvents<T> = {
  /** State changed; paths are dotted (`player.pos.x`). */
  change: [state: T, paths: string[]];
  frame: [frame: PixelFrame];
  /** An encoded picture (CompressedPixels), e.g. PNG/WebP bytes. */
  image: [bytes: Uint8Array, width: number, height: number];
  log: [record: LogRecordEvent];
  /** Log records before `firstAvailable` were evicted from the relay's history. */
  truncated: [requested: number, firstAvailable: number];
  media: [message: Message];
  status: [];
  welcome: [welcome: WelcomeInfo];
  error: [error: SluiceError];
  end: [reason: string];
};

/** Dotted paths of every leaf a merge patch touches. */
export function changedPaths(diff: JsonObject, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(diff)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isJsonObject(v) && Object.keys(v).length > 0) out.push(...changedPaths(v, p));
    else out.push(p);
  }
  return out;
}

export class StreamView<T = JsonObject> extends Emitter<StreamViewEvents<T>> {
  private state: T;
  private raw: JsonObject = {};
  /** `raw` projected onto the select (the same object when there is no select). */
  private projected: JsonObject = {};
  private readonly conn: Connection;
  private select: string[] | null;
  private tree: SelectTree | undefined;
  private readonly pending: Uint8Array[] = [];
  private readonly rpcCalls = new Map<number, { resolve: (v: JsonValue | undefined) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private rpcId = 0;
  private frameBuf: PixelFrame | undefined;
  private validation: Promise<void> = Promise.resolve();
  private onlineWaiters: Array<() => void> = [];
  /** Connection id the relay gave this view (0 until welcomed). */
  id = 0;
  /** The relay's Welcome for the current connection. */
  welcome: WelcomeInfo | undefined;
  /** Whether the channel's source is connected. */
  sourceOnline = false;
  /** Next log offset (for resuming). */
  logOffset: number;
  /** True once any state arrived. */
  hasState = false;
  /** Last error reported (fatal or not). */
  lastError: SluiceError | undefined;

  constructor(
    url: string,
    private readonly options: SubscribeOptions<T> = {},
  ) {
    super();
    this.select = parseSelect(typeof options.select === 'string' ? options.select : options.select ? [...options.select] : null);
    this.tree = this.select ? compileSelect(this.select) : undefined;
    this.logOffset = options.resumeFrom ?? 0;
    this.state = {} as T;
    this.conn = new Connection(() => this.urlWithQuery(url), options);
    this.conn.on('open', () => this.onOpen());
    this.conn.on('message', (b) => this.onMessage(b));
    this.conn.on('close', () => {
      this.sourceOnline = false;
      this.emit('status');
    });
    this.conn.on('latency', () => this.emit('status'));
    this.conn.on('refused', (e) => {
      this.fail(e);
      for (const [, c] of this.rpcCalls) c.reject(e);
      this.rpcCalls.clear();
    });
    this.conn.start();
  }

  private urlWithQuery(url: string): string {
    let u = url;
    if (this.options.batch !== false) u = withParam(u, 'batch', '1');
    if (this.select) u = withParam(u, 'select', this.select.join(','));
    if (this.logOffset > 0) u = withParam(u, 'resume', String(this.logOffset));
    return u;
  }

  // ------------------------------------------------------------------ public API

  /** Current state; the same reference until something changes. */
  get(): T {
    return this.state;
  }

  /** Calls `cb` with the changed paths after every change; returns an unsubscribe function. */
  subscribe(cb: (paths: string[]) => void): () => void {
    return this.on('change', (_s, paths) => cb(paths));
  }

  get connected(): boolean {
    return this.conn.connected;
  }
  get latencyMs(): number | undefined {
    return this.conn.latencyMs;
  }
  get frames(): number {
    return this.conn.frames;
  }
  get bytes(): number {
    return this.conn.bytes;
  }
  get reconnects(): number {
    return this.conn.reconnects;
  }
  /** The fatal error that stopped this view, if any. */
  get error(): SluiceError | undefined {
    return this.conn.error;
  }

  readonly when = {
    /** Resolves once connected and the channel's source is online. */
    online: (): Promise<void> => (this.conn.connected && this.sourceOnline ? Promise.resolve() : new Promise((resolve) => this.onlineWaiters.push(resolve))),
    /** Resolves once the first state arrived. */
    ready: (): Promise<T> => (this.hasState ? Promise.resolve(this.state) : new Promise((resolve) => this.once('change', (s) => resolve(s)))),
  };

  private once<K extends keyof StreamViewEvents<T>>(event: K, fn: (...args: StreamViewEvents<T>[K]) => void): void {
    const off = this.on(event, (...args) => {
      off();
      fn(...args);
    });
  }

  /** Sends an app-defined action to the source (queued while reconnecting). */
  send(action: JsonValue): void {
    this.input({ input: 'action', action });
  }

  /** Sends an input event to the source (pointer, key, scroll, touch, gamepad, resize, …). */
  input(event: InputEvent): void {
    const bytes = encodeMessage({ kind: 'input', event, timestamp: Date.now() >>> 0 });
    if (!this.conn.send(bytes)) {
      if (this.pending.length < 1000) this.pending.push(bytes);
    }
  }

  /** Calls an RPC method on the source; resolves with its result. */
  call(method: string, params?: JsonValue): Promise<JsonValue | undefined> {
    const id = ++this.rpcId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.rpcCalls.delete(id);
        reject(new RpcError('timeout', `RPC ${method} timed out`));
      }, this.options.rpcTimeoutMs ?? 10_000);
      (timer as { unref?: () => void }).unref?.();
      this.rpcCalls.set(id, { resolve, reject, timer });
      const bytes = encodeMessage({ kind: 'rpc-call', call: params === undefined ? { id, method } : { id, method, params } });
      if (!this.conn.send(bytes)) this.pending.push(bytes);
    });
  }

  /** Changes the select filter; the relay answers with a fresh projected sync. */
  setSelect(select: ReadonlyArray<string> | null): void {
    const paths = parseSelect(select ? [...select] : null);
    this.select = paths;
    this.tree = paths ? compileSelect(paths) : undefined;
    this.conn.send(encodeMessage({ kind: 'subscribe-filter', select: paths }));
  }

  /** Yields the state after each change, starting with the current one if any. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    const queue: T[] = this.hasState ? [this.state] : [];
    let wake: (() => void) | undefined;
    let done = false;
    const offChange = this.on('change', (s) => {
      queue.push(s);
      wake?.();
    });
    const offEnd = this.conn.on('refused', () => {
      done = true;
      wake?.();
    });
    try {
      while (!done && !this.conn.isStopped) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        while (queue.length > 0) yield queue.shift()!;
      }
    } finally {
      offChange();
      offEnd();
    }
  }

  close(): Promise<void> {
    const closed = this.conn.close();
    for (const [, c] of this.rpcCalls) {
      clearTimeout(c.timer);
      c.reject(new RpcError('closed', 'view closed'));
    }
    this.rpcCalls.clear();
    return closed;
  }

  // ------------------------------------------------------------------ incoming

  private fail(e: SluiceError): void {
    this.lastError = e;
    this.emit('error', e);
    this.emit('status');
  }

  private onOpen(): void {
    // The URL carried the select and `resume=` (the next log offset: no gap, no duplicate).
    for (const b of this.pending.splice(0)) this.conn.send(b);
    this.emit('status');
  }

  private onMessage(bytes: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(bytes, { maxPayload: 1 << 30 });
    } catch (e) {
      this.fail(new BadFrameError(`undecodable frame from the relay: ${(e as Error).message}`, { cause: e }));
      return;
    }
    switch (m.kind) {
      case 'welcome':
        this.id = m.welcome.id;
        this.welcome = m.welcome;
        this.emit('welcome', m.welcome);
        return;
      case 'source-status':
        this.sourceOnline = m.status.online;
        this.emit('status');
        if (this.sourceOnline && this.conn.connected) {
          const w = this.onlineWaiters;
          this.onlineWaiters = [];
          for (const f of w) f();
        }
        return;
      case 'signal-sync':
        return this.applyState(m.state, true);
      case 'signal-diff':
        return this.applyState(m.diff, false);
      case 'pixels':
      case 'keyframe':
        if (m.data.length === 0) return;
        this.frameBuf = { width: m.width, height: m.height, rgba: m.data.slice() };
        this.emit('frame', this.frameBuf);
        return;
      case 'delta-pixels': {
        const f = this.frameBuf;
        if (!f || f.width !== m.width || f.height !== m.height) return; // wait for a keyframe
        try {
          applyDeltaInPlace(f.rgba, m.data);
        } catch (e) {
          this.fail(new BadFrameError('bad pixel delta', { cause: e }));
          return;
        }
        this.emit('frame', f);
        return;
      }
      case 'compressed-pixels':
        this.emit('image', m.data, m.width, m.height);
        return;
      case 'log-record': {
        if (m.offset < this.logOffset) return; // already seen
        this.logOffset = m.offset + 1;
        this.emit('log', { offset: m.offset, time: m.time, stream: m.stream, data: m.data, text: new TextDecoder().decode(m.data) });
        return;
      }
      case 'history-truncated':
        this.emit('truncated', m.requested, m.firstAvailable);
        return;
      case 'rpc-result': {
        const id = typeof m.result.id === 'number' ? m.result.id : Number(m.result.id);
        const c = this.rpcCalls.get(id);
        if (!c) return;
        this.rpcCalls.delete(id);
        clearTimeout(c.timer);
        if (m.result.error) c.reject(new RpcError(m.result.error.code, m.result.error.message));
        else c.resolve(m.result.result);
        return;
      }
      case 'error':
        this.fail(new RelayError(m.error.code, m.error.message));
        return;
      case 'stream-end':
        this.emit('end', m.reason);
        return;
      case 'audio-pcm':
      case 'audio-compressed':
      case 'haptic':
      case 'neural-frame':
      case 'neural-audio':
      case 'schema-announce':
        this.emit('media', m);
        return;
      default:
        return;
    }
  }

  private applyState(payload: JsonObject, isSync: boolean): void {
    const nextRaw = isSync ? payload : applyDiff(this.raw, payload);
    // Select is enforced here too: never expose fields the view did not ask for.
    const projected = this.tree ? projectState(nextRaw, this.tree) : nextRaw;
    // A diff can only change the top-level fields it names; a sync can change any.
    const touched = isSync ? undefined : Object.keys(payload);
    const schema = this.options.schema;
    if (!schema) return this.commit(nextRaw, projected, touched, projected as T);
    const result = schema['~standard'].validate(projected);
    if (result instanceof Promise) {
      // Keep frames in order while an async schema runs.
      this.validation = this.validation.then(async () => this.afterValidation(nextRaw, projected, touched, await result));
    } else this.afterValidation(nextRaw, projected, touched, result);
  }

  private afterValidation(nextRaw: JsonObject, projected: JsonObject, touched: string[] | undefined, result: StandardSchemaV1.Result<T>): void {
    if (result.issues) {
      this.fail(new SchemaValidationError(result.issues));
      return;
    }
    this.commit(nextRaw, projected, touched, result.value);
  }

  private commit(nextRaw: JsonObject, projected: JsonObject, touched: string[] | undefined, value: T): void {
    const before = this.projected;
    this.raw = nextRaw;
    this.projected = projected;
    const paths = changedPaths(touched ? diffStates(pick(before, touched), pick(projected, touched)) : diffStates(before, projected));
    if (paths.length === 0 && this.hasState) return;
    this.hasState = true;
    this.state = value;
    this.emit('change', value, paths);
  }
}

/** The members of `o` named in `keys` (absent ones stay absent). */
function pick(o: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) if (Object.prototype.hasOwnProperty.call(o, k)) out[k] = o[k]!;
  return out;
}

/** Subscribes to a channel (e.g. `ws://localhost:9100/stream/counter`). */
export function subscribe<T = JsonObject>(url: string, options: SubscribeOptions<T> = {}): StreamView<T> {
  return new StreamView<T>(url, options);
}

export { LogStream };
