/**
 * A live view of a channel: `get()` returns the current state (the same reference until something
 * changes), `subscribe(cb)` reports changed paths, async iteration yields the latest state, and
 * `send()` / `call()` talk back to the source. Select is enforced by the relay and again here;
 * a Standard Schema (zod, valibot, arktype…) validates every new state, in arrival order.
 */
import { hasOwn, setOwn } from '../protocol/own.js';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { CloseCode } from '../protocol/close-codes.js';
import { applyDeltaInPlace } from '../protocol/delta-codec.js';
import type { InputEvent } from '../protocol/inputs.js';
import { LogStream } from '../protocol/control.js';
import type { HelloInfo, LogStreamName, RpcCallInfo } from '../protocol/control.js';
import { applyDiff, diffStates } from '../protocol/merge-patch.js';
import { encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { compileSelect, parseSelect, projectState } from '../protocol/select.js';
import type { SelectTree } from '../protocol/select.js';
import { isJsonObject } from '../protocol/utf8.js';
import type { JsonObject, JsonValue } from '../protocol/utf8.js';
import { withParam } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { Endpoint } from './endpoint.js';
import type { EndpointEvents, Welcome } from './endpoint.js';
import { BadFrameError, RelayError, RpcError, SchemaValidationError } from './errors.js';
import type { ClientError } from './errors.js';
import { LatestValueIterator } from './latest-iterator.js';

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

/** An encoded picture (CompressedPixels): PNG/WebP bytes as the source sent them. */
export interface ImageFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface LogRecordEvent {
  offset: number;
  time: number;
  stream: LogStreamName;
  data: Uint8Array;
  /** `data` as UTF-8 text. */
  text: string;
}

/** Why log records were skipped: evicted from the relay's history, or void after a relay restart. */
export interface TruncationInfo {
  reason: 'evicted' | 'epoch';
  requested: number;
  firstAvailable: number;
}

export interface ChangeEvent<T> {
  state: T;
  /** Dotted paths that changed (`player.pos.x`); a sync that replaced everything lists every changed leaf. */
  paths: string[];
}

export type StreamViewEvents<T> = EndpointEvents & {
  /** State changed. */
  change: [change: ChangeEvent<T>];
  frame: [frame: PixelFrame];
  image: [image: ImageFrame];
  log: [record: LogRecordEvent];
  /**
   * Log records between `requested` and `firstAvailable` will never arrive: evicted from the
   * relay's history, or (reason `epoch`) the relay restarted and its offsets start over.
   * Positional arguments kept for existing listeners; `info` has all of it.
   */
  truncated: [requested: number, firstAvailable: number, info: TruncationInfo];
  /** The relay's data was replaced (new epoch): state and log offsets start over. */
  reset: [info: { reason: 'epoch'; previousEpoch: string; epoch: string }];
  media: [message: Message];
  /** Something shown by a status line changed (connection, latency, source online). */
  status: [];
  end: [info: { reason: string }];
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

interface PendingCall {
  method: string;
  resolve: (v: JsonValue | undefined) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  /** The frame, until it went out on a connection. */
  unsent: Uint8Array | undefined;
}

export class StreamView<T = JsonObject> extends Endpoint<StreamViewEvents<T>> {
  private value: T;
  /** The relay's state as every frame received so far makes it (validated or not). */
  private incoming: JsonObject = {};
  /** The raw state behind what `get()` shows, when that is known to be `incoming`'s ancestor. */
  private committedRaw: JsonObject | undefined;
  /** `get()`'s state before validation (projected onto the select). */
  private projected: JsonObject = {};
  private select: string[] | null;
  private tree: SelectTree | undefined;
  private readonly pending: Uint8Array[] = [];
  private readonly rpcCalls = new Map<number, PendingCall>();
  private rpcId = 0;
  private frameBuf: PixelFrame | undefined;
  private validation: Promise<void> = Promise.resolve();
  private validating = 0;
  private readonly iterators = new Set<LatestValueIterator<T>>();
  /** Connection id the relay gave this view (0 until welcomed). */
  id = 0;
  /** Whether the channel's source is connected. */
  sourceOnline = false;
  /** Next log offset (for resuming). */
  logOffset: number;
  /** True once a state arrived (false again after an epoch change, until the new relay's first state). */
  hasState = false;
  private paused = false;

  constructor(
    url: string,
    private readonly options: SubscribeOptions<T> = {},
  ) {
    super(() => this.urlWithQuery(url), options, 'receiver');
    this.select = parseSelect(typeof options.select === 'string' ? options.select : options.select ? [...options.select] : null);
    this.tree = this.select ? compileSelect(this.select) : undefined;
    this.logOffset = options.resumeFrom ?? 0;
    this.value = {} as T;
    this.conn.on('latency', () => this.emit('status'));
    this.on('state', () => this.emit('status'));
    this.start();
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
    return this.value;
  }

  /** Calls `cb` with the changed paths after every change; returns an unsubscribe function. */
  subscribe(cb: (paths: string[]) => void): () => void {
    return this.on('change', (c) => cb(c.paths));
  }

  readonly when = {
    /** Resolves once live and the channel's source is online; rejects on refusal or close. */
    online: (): Promise<void> => this.waitFor(() => this.connectionState === 'live' && this.sourceOnline, 'when.online()'),
    /** Resolves with the first state; rejects on refusal or close. */
    ready: (): Promise<T> => this.waitFor(() => this.hasState, 'when.ready()').then(() => this.value),
    /** Resolves once live (welcomed by the relay); rejects on refusal or close. */
    live: (): Promise<void> => this.waitFor(() => this.connectionState === 'live', 'when.live()'),
  };

  /** Sends an app-defined action to the source (queued while reconnecting). */
  send(action: JsonValue): void {
    this.input({ input: 'action', action });
  }

  /** Sends an input event to the source (pointer, key, scroll, touch, gamepad, resize, …). */
  input(event: InputEvent): void {
    const bytes = encodeMessage({ kind: 'input', event, timestamp: Date.now() >>> 0 });
    if (!this.sendLive(bytes)) {
      if (this.pending.length < 1000) this.pending.push(bytes);
    }
  }

  /**
   * Calls an RPC method on the source; resolves with its result. Rejects with an {@link RpcError}:
   * at once when the channel has no source (`rpc/no-source`) or it is not reading
   * (`rpc/source-busy`), when the connection drops while the call is out (`rpc/disconnected`), on
   * timeout (`rpc/timeout`, and the source is told to drop the call) or close (`rpc/closed`).
   */
  call(method: string, params?: JsonValue, options: { timeoutMs?: number } = {}): Promise<JsonValue | undefined> {
    const id = ++this.rpcId;
    const timeoutMs = Math.max(1, Math.round(options.timeoutMs ?? this.options.rpcTimeoutMs ?? 10_000));
    if (this.connectionState === 'closed' || this.connectionState === 'refused') {
      return Promise.reject(this.error ?? new RpcError('closed', `RPC ${method}: view closed`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const c = this.rpcCalls.get(id);
        this.rpcCalls.delete(id);
        // Withdraw it, so a source that has not started the handler never does.
        if (c && !c.unsent) this.sendLive(encodeMessage({ kind: 'rpc-call', call: { id, method, cancel: true } as RpcCallInfo }));
        reject(new RpcError('timeout', `RPC ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      (timer as { unref?: () => void }).unref?.();
      const call = { id, method, timeoutMs, ...(params === undefined ? {} : { params }) } as RpcCallInfo;
      const bytes = encodeMessage({ kind: 'rpc-call', call });
      const sent = this.sendLive(bytes);
      this.rpcCalls.set(id, { method, resolve, reject, timer, unsent: sent ? undefined : bytes });
    });
  }

  /** Changes the select filter; the relay answers with a fresh projected sync. */
  setSelect(select: ReadonlyArray<string> | null): void {
    const paths = parseSelect(select ? [...select] : null);
    this.select = paths;
    this.tree = paths ? compileSelect(paths) : undefined;
    this.conn.send(encodeMessage({ kind: 'subscribe-filter', select: paths }));
  }

  /**
   * Pauses (`true`) or resumes (`false`) media from the relay for this view: while paused the relay
   * sends no pictures, audio, haptics or neural frames (state, logs, RPC results and status still
   * come, and inputs still go). On resume it sends the current picture first if this view missed
   * a change, then live frames, so a picture decoder fed by this view never breaks its delta
   * chain — keep feeding it everything the view emits, paused or not.
   *
   * For pages that get the media another way, e.g. a WebRTC link (`/view?webrtc=1` pauses while its
   * link is healthy). The setting survives reconnects: every new connection's Hello carries it.
   *
   * @example
   * ```ts
   * const view = subscribeMedia('wss://relay.example/stream/game');
   * link.on('transport', (t) => view.pauseMedia(t === 'webrtc'));
   * ```
   */
  pauseMedia(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    // Not connected: the next connection's Hello says it.
    this.conn.send(encodeMessage({ kind: 'hello', hello: { media: !paused } }));
  }

  /** Whether media from the relay is paused (see {@link pauseMedia}). */
  get mediaPaused(): boolean {
    return this.paused;
  }

  protected override hello(): HelloInfo {
    return this.paused ? { ...super.hello(), media: false } : super.hello();
  }

  /**
   * Yields the latest state: the current one first (if any), then the newest after each change.
   * A consumer that pauses skips intermediate states, like a slow receiver at the relay. Ends when
   * the view closes; throws the refusal error if the relay refuses the view.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    const it: LatestValueIterator<T> = new LatestValueIterator<T>(() => {
      off();
      this.iterators.delete(it);
    });
    const off = this.on('change', (c) => it.push(c.state));
    this.iterators.add(it);
    if (this.hasState) it.push(this.value);
    if (this.connectionState === 'closed') it.stop();
    else if (this.connectionState === 'refused') it.stop(this.error);
    return it;
  }

  /** Number of live async iterators (for tests and leak checks). */
  get iteratorCount(): number {
    return this.iterators.size;
  }

  close(): Promise<void> {
    return this.closeEndpoint();
  }

  // ------------------------------------------------------------------ lifecycle hooks

  private sendLive(bytes: Uint8Array): boolean {
    return this.welcomed && this.conn.send(bytes);
  }

  protected override onWelcome(w: Welcome, previous: Welcome | undefined): void {
    this.id = w.id;
    if (previous?.epoch !== undefined && w.epoch !== undefined && previous.epoch !== w.epoch) {
      // The relay's data was replaced: our state and log offsets describe data that no longer exists.
      this.incoming = {};
      this.committedRaw = undefined;
      this.hasState = false;
      this.frameBuf = undefined;
      this.emit('reset', { reason: 'epoch', previousEpoch: previous.epoch, epoch: w.epoch });
      if (this.logOffset > 0) {
        const requested = this.logOffset;
        this.logOffset = 0;
        this.emit('truncated', requested, 0, { reason: 'epoch', requested, firstAvailable: 0 });
        // This connection asked to resume at an offset of the old epoch: connect again from the start.
        this.conn.reconnectNow();
        return;
      }
    }
    // Queued inputs and calls go out once the relay accepted us (a refused handshake would lose them).
    for (const b of this.pending.splice(0)) this.conn.send(b);
    for (const c of this.rpcCalls.values()) {
      if (c.unsent && this.conn.send(c.unsent)) c.unsent = undefined;
    }
  }

  protected override onDisconnect(): void {
    this.sourceOnline = false;
    if (this.closing) return; // onEnd settles every call as closed
    // Calls already sent went to a connection that is gone: their results can never arrive.
    for (const [id, c] of this.rpcCalls) {
      if (c.unsent) continue;
      this.rpcCalls.delete(id);
      clearTimeout(c.timer);
      c.reject(new RpcError('disconnected', `RPC ${c.method}: the connection dropped before the result arrived`));
    }
  }

  protected override onEnd(error: ClientError): void {
    for (const [, c] of this.rpcCalls) {
      clearTimeout(c.timer);
      c.reject(error.code === 'client/closed' ? new RpcError('closed', `RPC ${c.method}: view closed`) : error);
    }
    this.rpcCalls.clear();
    for (const it of [...this.iterators]) it.stop(error.code === 'client/closed' ? undefined : error);
  }

  // ------------------------------------------------------------------ incoming

  protected onFrame(m: Message): void {
    switch (m.kind) {
      case 'source-status':
        this.sourceOnline = m.status.online;
        // The source that had our calls is gone: their results can never arrive.
        if (!m.status.online) {
          for (const [id, c] of this.rpcCalls) {
            if (c.unsent) continue;
            this.rpcCalls.delete(id);
            clearTimeout(c.timer);
            c.reject(new RpcError('source-left', `RPC ${c.method}: the source went offline before it answered`));
          }
        }
        this.emit('status');
        this.recheck();
        return;
      case 'signal-sync':
        this.conn.markHealthy();
        return this.applyState(m.state, true);
      case 'signal-diff':
        this.conn.markHealthy();
        return this.applyState(m.diff, false);
      case 'pixels':
      case 'keyframe':
        this.conn.markHealthy();
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
          this.report(new BadFrameError('bad pixel delta', { cause: e }));
          return;
        }
        this.emit('frame', f);
        return;
      }
      case 'compressed-pixels':
        this.conn.markHealthy();
        this.emit('image', { width: m.width, height: m.height, data: m.data });
        return;
      case 'log-record': {
        this.conn.markHealthy();
        if (m.offset < this.logOffset) return; // already seen
        this.logOffset = m.offset + 1;
        this.emit('log', { offset: m.offset, time: m.time, stream: m.stream, data: m.data, text: new TextDecoder().decode(m.data) });
        return;
      }
      case 'history-truncated':
        this.emit('truncated', m.requested, m.firstAvailable, { reason: 'evicted', requested: m.requested, firstAvailable: m.firstAvailable });
        return;
      case 'rpc-result': {
        const id = typeof m.result.id === 'number' ? m.result.id : Number(m.result.id);
        const c = this.rpcCalls.get(id);
        if (!c) return;
        this.rpcCalls.delete(id);
        clearTimeout(c.timer);
        if (m.result.error) c.reject(new RpcError(m.result.error.code, `RPC ${c.method}: ${m.result.error.message}`));
        else c.resolve(m.result.result);
        return;
      }
      case 'error':
        return this.onRelayError(m.error.code, m.error.message);
      case 'stream-end':
        this.emit('end', { reason: m.reason });
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

  /**
   * A relay that predates RpcResult errors answers an unroutable call with an Error frame (4404 no
   * source, 4429 source not reading) that names no call: it settles every call already sent.
   */
  private onRelayError(code: number, message: string): void {
    const reason = code === CloseCode.NotFound ? 'no-source' : code === CloseCode.RateLimited ? 'source-busy' : undefined;
    let settled = 0;
    if (reason) {
      for (const [id, c] of this.rpcCalls) {
        if (c.unsent) continue;
        this.rpcCalls.delete(id);
        clearTimeout(c.timer);
        c.reject(new RpcError(reason, `RPC ${c.method}: ${message}`));
        settled++;
      }
    }
    if (settled === 0) this.report(new RelayError(code, message));
  }

  private applyState(payload: JsonObject, isSync: boolean): void {
    const base = this.incoming;
    const nextRaw = isSync ? payload : applyDiff(base, payload);
    this.incoming = nextRaw;
    // Select is enforced here too: never expose fields the view did not ask for.
    const projected = this.tree ? projectState(nextRaw, this.tree) : nextRaw;
    // A diff on top of what is shown can only change the top-level fields it names.
    const touched = !isSync && base === this.committedRaw ? Object.keys(payload) : undefined;
    const schema = this.options.schema;
    if (!schema) return this.commit(nextRaw, projected, touched, projected as T);
    const validate = () => schema['~standard'].validate(projected);
    const later = (job: () => Promise<void>) => {
      // Frames commit in arrival order while an async schema runs.
      this.validating++;
      this.validation = this.validation
        .then(job)
        .catch((e: unknown) => this.report(new SchemaValidationError([{ message: `schema threw: ${(e as Error).message}` }])))
        .finally(() => this.validating--);
    };
    if (this.validating > 0) {
      // An earlier frame is still being validated: this one waits its turn, even if its schema is sync.
      later(async () => this.afterValidation(nextRaw, projected, touched, await validate()));
      return;
    }
    const result = validate();
    if (result instanceof Promise) later(async () => this.afterValidation(nextRaw, projected, touched, await result));
    else this.afterValidation(nextRaw, projected, touched, result);
  }

  private afterValidation(nextRaw: JsonObject, projected: JsonObject, touched: string[] | undefined, result: StandardSchemaV1.Result<T>): void {
    if (this.connectionState === 'closed') return;
    if (result.issues) {
      this.report(new SchemaValidationError(result.issues));
      return;
    }
    this.commit(nextRaw, projected, touched, result.value);
  }

  private commit(nextRaw: JsonObject, projected: JsonObject, touched: string[] | undefined, value: T): void {
    const before = this.projected;
    this.committedRaw = nextRaw;
    this.projected = projected;
    const paths = changedPaths(touched ? diffStates(pick(before, touched), pick(projected, touched)) : diffStates(before, projected));
    if (paths.length === 0 && this.hasState) return;
    this.hasState = true;
    this.value = value;
    this.emit('change', { state: value, paths });
    this.recheck();
  }
}

/** The members of `o` named in `keys` (absent ones stay absent). */
function pick(o: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  // setOwn: a key named "__proto__" is data, not the object's prototype.
  for (const k of keys) if (hasOwn(o, k)) setOwn(out, k, o[k]!);
  return out;
}

/** Subscribes to a channel (e.g. `ws://localhost:9100/stream/counter`). */
export function subscribe<T = JsonObject>(url: string, options: SubscribeOptions<T> = {}): StreamView<T> {
  return new StreamView<T>(url, options);
}

export { LogStream };
