/**
 * A source publishes one state object into a channel. Mutations made in one tick leave as ONE
 * SignalDiff (microtask batching); fields not listed in `output` never leave the process; every
 * (re)connect sends SchemaAnnounce + a full SignalSync once the relay welcomed it. Receivers'
 * inputs, actions and RPC calls arrive here with the sender's connection id. `log()` delivers
 * ordered log records with acknowledgements: nothing is lost across reconnects.
 */
import { CloseCode } from '../protocol/close-codes.js';
import { Flag, FrameType } from '../protocol/frame-codes.js';
import { HEADER_SIZE, encodeFrame } from '../protocol/header.js';
import { DeltaEncoder } from '../protocol/delta-codec.js';
import type { InputEvent } from '../protocol/inputs.js';
import type { LogStreamName } from '../protocol/control.js';
import { diffStates } from '../protocol/merge-patch.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { compileSelect, projectState } from '../protocol/select.js';
import type { SelectTree } from '../protocol/select.js';
import { utf8Decode, utf8Encode } from '../protocol/utf8.js';
import type { JsonObject, JsonValue } from '../protocol/utf8.js';
import { publishAudio } from './audio-publisher.js';
import type { AudioPublisher, PublishAudioOptions } from './audio-publisher.js';
import { CanvasPublisher } from './canvas-publisher.js';
import type { PublishCanvasOptions } from './canvas-publisher.js';
import { withParam } from './connection.js';
import { SourceMediaLinks } from './webrtc-source-links.js';
import type { SourceMediaLinksOptions } from './webrtc-source-links.js';
import { frameRoute } from './webrtc-common.js';
import { signalUrlFor } from './webrtc-signaling.js';
import type { ConnectionOptions } from './connection.js';
import { Endpoint } from './endpoint.js';
import type { EndpointEvents, Welcome } from './endpoint.js';
import { InvalidPictureError, InvalidValueError, LogAckTimeoutError, LogOverflowError, RelayError } from './errors.js';
import { cloneJson, toJsonValue } from './json-value.js';

export interface SourceOptions<T extends object> extends ConnectionOptions {
  /** Initial state. */
  initial?: T;
  /** Public fields (top-level names or dotted paths); others never leave the process. Default: all. */
  output?: ReadonlyArray<string>;
  /** At most one diff per this many ms; changes in between merge into it. Default 0 (every tick). */
  throttleMs?: number;
  /** Announced mode: `signal` (state, default) or `pixel`. */
  mode?: 'signal' | 'pixel';
  /**
   * When the channel already has a source (4409): `false` (default) stops for good with a
   * ConnectionRefusedError; `true` keeps retrying with backoff until the channel is free.
   */
  waitForChannel?: boolean;
  /** RPC handlers running at once; later calls wait in arrival order. Default: unlimited. */
  maxConcurrentCalls?: number;
  /** Bound of the unacknowledged log buffer (bytes). Default 64 MiB. See `log()`. */
  maxUnackedLogBytes?: number;
  /** How long `close()` waits for unacknowledged log records (ms). Default 5000. */
  closeTimeoutMs?: number;
  /**
   * Browsers: also send media frames (pictures, audio) over WebRTC data channels to receivers
   * that ask (`/view/{channel}?webrtc=1`, a `ReceiverMediaLink`), and take their inputs back the
   * same way; the relay path goes on as before. `true` or options (`maxPeers`, `iceServers`…).
   * Where there is no RTCPeerConnection (Node) it does nothing. See docs/webrtc.md.
   */
  webrtc?: boolean | SourceWebRtcOptions;
}

/** `webrtc` options of a source: those of {@link SourceMediaLinks}; `signalUrl` defaults to the channel's `/signal`. */
export type SourceWebRtcOptions = Omit<SourceMediaLinksOptions, 'signalUrl' | 'keyframe'> & { signalUrl?: string };

export type RpcHandler = (params: JsonValue | undefined, sender: number) => JsonValue | undefined | Promise<JsonValue | undefined>;

export interface SourceChange<T> {
  /** `get()` after the change. */
  state: T;
  /** Dotted paths assigned or deleted since the last event (an array counts as one value). */
  paths: string[];
}

export type SourceEvents<T = Record<string, unknown>> = EndpointEvents & {
  /** The state changed locally (once per tick, whatever the connection does). */
  change: [change: SourceChange<T>];
  /** An input from a receiver; `sender` is its relay connection id (0 when it came over WebRTC). */
  input: [input: { event: InputEvent; sender: number }];
  /**
   * A receiver needs a full picture next (a WebRTC peer joined or fell behind): the next
   * `publishPixels` is a keyframe already; a canvas publisher listens to this.
   */
  'keyframe-wanted': [];
  action: [action: { action: JsonValue; sender: number }];
};

type Plain = Record<string, unknown>;

interface QueuedCall {
  key: string;
  id: string | number;
  method: string;
  params: JsonValue | undefined;
  sender: number;
  receivedAt: number;
  timeoutMs: number | undefined;
  started: boolean;
}

interface UnackedRecord {
  seq: number;
  frame: Uint8Array;
}

const DEFAULT_MAX_UNACKED = 64 * 1024 * 1024;

function randomId(): string {
  const bytes = new Uint8Array(12);
  const c = (globalThis as { crypto?: { getRandomValues?: (b: Uint8Array) => Uint8Array } }).crypto;
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return Array.from(bytes, (b) => abc[b & 63]).join('');
}

export class Source<T extends object = Plain> extends Endpoint<SourceEvents<T>> {
  /** Mutate this like a plain object; changes are batched and published. Values must be JSON data. */
  readonly state: T;
  /** This source's log producer id (`?producer=`), stable across its reconnects. */
  readonly producerId = randomId();
  /** The WebRTC links to receivers (`webrtc` option; docs/webrtc.md), if any. */
  readonly links: SourceMediaLinks | undefined;
  private current: Plain;
  private snapshot: T | undefined;
  private lastSent: JsonObject | undefined;
  private readonly output: SelectTree | undefined;
  private scheduled = false;
  private throttleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAt = 0;
  private seq = 0;
  private readonly rpc = new Map<string, RpcHandler>();
  private readonly proxies = new WeakMap<object, unknown>();
  private readonly targets = new WeakMap<object, object>();
  private readonly paths = new WeakMap<object, string>();
  private changed = new Set<string>();
  private notifyScheduled = false;
  private pixelEncoder: DeltaEncoder | undefined;
  /** The newest picture given to publishPixels (sent again as a keyframe on every Welcome). */
  private picture: { width: number; height: number; rgba: Uint8Array } | undefined;
  private readonly calls = new Map<string, QueuedCall>();
  private readonly callQueue: QueuedCall[] = [];
  private running = 0;
  private pumpScheduled = false;
  private logSeq = 0;
  private readonly unacked: UnackedRecord[] = [];
  private unackedBytes = 0;
  /** The relay acknowledges log records (its Welcome carries `logAcked`). */
  private relayAcks = false;
  private overflowReportedAt = 0;
  private overflowPending = 0;
  /** Diffs sent (for tests and stats). */
  diffsSent = 0;
  /** Highest log sequence number the relay acknowledged. */
  logAckedSeq = 0;
  /** Log records dropped because the unacknowledged buffer overflowed (see `log()`). */
  logsDropped = 0;
  /** RPC calls dropped unstarted because they expired or were withdrawn by the caller. */
  callsDropped = 0;

  constructor(
    url: string,
    private readonly options: SourceOptions<T> = {},
  ) {
    super(() => withParam(url, 'producer', this.producerId), options, 'source');
    this.current = (toJsonValue(options.initial ?? {}, '') ?? {}) as Plain;
    if (Array.isArray(this.current)) throw new InvalidValueError('', 'an array (state is an object)');
    this.output = options.output ? compileSelect([...options.output]) : undefined;
    this.state = this.proxy(this.current, '') as T;
    this.start();
    if (options.webrtc) (this as { links: SourceMediaLinks | undefined }).links = this.startLinks(url, options.webrtc === true ? {} : options.webrtc);
  }

  private startLinks(url: string, o: SourceWebRtcOptions): SourceMediaLinks {
    const token = this.options.token;
    const signalUrl = o.signalUrl ?? signalUrlFor(token ? withParam(url, 'token', token) : url);
    const links = new SourceMediaLinks({ ...(this.options.WebSocket ? { WebSocket: this.options.WebSocket } : {}), ...o, signalUrl });
    // Inputs over a link take the same path as the relay's (no relay sender id: 0).
    links.on('input', (frame, _peer, m) => this.onFrame(m, frame));
    links.on('needs-keyframe', () => {
      this.pixelEncoder?.reset();
      this.emit('keyframe-wanted');
    });
    return links;
  }

  /** Media frames also go over the WebRTC links (the relay copy is sent as well). */
  private toLinks(frame: Uint8Array): void {
    if (this.links && this.links.peerCount > 0 && frameRoute(frame) !== 'other') this.links.send(frame);
  }

  readonly when = {
    /** Resolves once live (welcomed by the relay); rejects on refusal or close. */
    online: (): Promise<void> => this.waitFor(() => this.connectionState === 'live', 'when.online()'),
  };

  /** The current state: a read-only snapshot, the same reference until something changes. */
  get(): T {
    return (this.snapshot ??= Object.freeze(cloneJson(this.current)) as T);
  }

  /** Calls `cb` with the changed paths once per tick after local changes; returns an unsubscribe function. */
  subscribe(cb: (paths: string[]) => void): () => void {
    return this.on('change', (c) => cb(c.paths));
  }

  /** Merges `patch` into the state at the top level (`undefined`/`null` delete). All or nothing. */
  set(patch: Partial<T>): void {
    const plain = toJsonValue(patch, '', (o) => this.targets.get(o) ?? o);
    if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) throw new InvalidValueError('', 'set() takes an object');
    for (const k of Object.keys(patch)) {
      if (Object.prototype.hasOwnProperty.call(plain, k)) Object.defineProperty(this.current, k, { value: plain[k], writable: true, enumerable: true, configurable: true });
      else delete this.current[k];
      this.touch(k);
    }
  }

  /** Runs `fn` with the mutable state. */
  update(fn: (state: T) => void): void {
    fn(this.state);
  }

  /** Replaces the whole state. */
  replace(next: T): void {
    const plain = toJsonValue(next, '', (o) => this.targets.get(o) ?? o);
    if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) throw new InvalidValueError('', 'replace() takes an object');
    const before = this.current;
    this.current = plain as Plain;
    (this as { state: T }).state = this.proxy(this.current, '') as T;
    for (const p of changedTop(before, this.current)) this.touch(p);
  }

  /** Registers a handler for RPC `method`, called by receivers with `view.call(method, params)`. */
  handle(method: string, fn: RpcHandler): () => void {
    this.rpc.set(method, fn);
    return () => this.rpc.delete(method);
  }

  /**
   * Sends any frame as is (audio, custom media…). Returns false when not live. A LogRecord goes
   * through `log()` (it gets the next producer sequence number and is acked) and returns true.
   */
  publishFrame(frame: Message | Uint8Array): boolean {
    if (frame instanceof Uint8Array ? frame[0] === FrameType.LogRecord && (frame[1]! & Flag.Input) === 0 : frame.kind === 'log-record') {
      let m: Message;
      try {
        m = frame instanceof Uint8Array ? decodeMessage(frame) : frame;
      } catch {
        return false;
      }
      if (m.kind !== 'log-record') return false;
      this.appendLog(m.stream, m.data, m.time);
      return true;
    }
    const bytes = frame instanceof Uint8Array ? frame : encodeMessage({ seq: this.nextSeq(), timestamp: Date.now() >>> 0, ...frame });
    this.toLinks(bytes);
    return this.sendLive(bytes);
  }

  /**
   * Publishes an RGBA frame, as a delta against the previous one when that is smaller. Returns
   * false when not live; the picture is not lost then: the newest one goes out as a keyframe as
   * soon as the relay welcomes this source (also after every reconnect, so a restarted relay
   * gets the current picture back). Throws {@link InvalidPictureError} (nothing sent) unless width
   * and height are integers in 1–65535 and `rgba.length === width * height * 4`.
   */
  publishPixels(width: number, height: number, rgba: Uint8Array): boolean {
    const side = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0xffff;
    if (!side(width) || !side(height)) throw new InvalidPictureError(`publishPixels: ${width}×${height} is not a picture size (integers 1–65535)`);
    if (rgba.length !== width * height * 4) throw new InvalidPictureError(`publishPixels: ${rgba.length} bytes is not ${width}×${height}×4 = ${width * height * 4}`);
    this.pixelEncoder ??= new DeltaEncoder();
    // A new shape is a new picture, even with the same byte count (a rotation): send a keyframe.
    if (this.picture && (this.picture.width !== width || this.picture.height !== height)) this.pixelEncoder.reset();
    this.keepPicture(width, height, rgba);
    if (!this.welcomed || !this.conn.connected) {
      this.pixelEncoder.reset();
      return false;
    }
    return this.sendPicture(width, height, rgba);
  }

  /** Remembers the current picture (copied: callers reuse their buffers) for the next Welcome. */
  private keepPicture(width: number, height: number, rgba: Uint8Array): void {
    const p = this.picture;
    if (p && p.rgba.length === rgba.length) {
      p.rgba.set(rgba);
      p.width = width;
      p.height = height;
    } else this.picture = { width, height, rgba: rgba.slice() };
  }

  private sendPicture(width: number, height: number, rgba: Uint8Array): boolean {
    const { keyframe, data } = this.pixelEncoder!.encode(rgba);
    const type = keyframe ? FrameType.Pixels : FrameType.DeltaPixels;
    const frame = encodeFrame({ type, flags: keyframe ? Flag.Keyframe : 0, seq: this.nextSeq(), timestamp: Date.now() >>> 0, width, height }, data);
    this.toLinks(frame);
    return this.conn.send(frame);
  }

  /**
   * Streams a canvas (browser): captures it `fps` times a second and sends each capture as one
   * frame in `mode` — `raw` (exact, w×h×4 bytes a frame), `delta` (exact, XOR+RLE against the
   * previous frame: tiny when little changes), `compressed` (WebP/JPEG at `quality`, lossy,
   * bounded) or `auto` (deltas while small, images while much changes, an exact keyframe once the
   * picture settles). Encoding runs in a Worker (`/sluice-worker.js`, served by the relay). A tick
   * is skipped while the encoder or the socket is behind, so latency never builds up; after every
   * (re)connect the current picture goes out as a keyframe.
   *
   * @example
   * ```ts
   * const src = source(`ws://${location.host}/source/board`, { mode: 'pixel' });
   * const pub = src.publishCanvas(document.querySelector('canvas')!, { fps: 30, mode: 'delta' });
   * src.on('input', ({ event }) => { if (event.input === 'pointer') draw(event.x, event.y); });
   * // later: pub.stop();
   * ```
   */
  publishCanvas(canvas: HTMLCanvasElement | OffscreenCanvas, options: PublishCanvasOptions = {}): CanvasPublisher {
    return new CanvasPublisher(this, canvas, options);
  }

  /**
   * Streams audio (browser) from a MediaStream or an AudioNode as AudioPcm frames of `chunkMs`
   * (default 20 ms), or as Opus AudioCompressed frames with `codec: 'opus'` where WebCodecs'
   * AudioEncoder supports it (PCM otherwise; `codec` on the result says which).
   *
   * @example
   * ```ts
   * const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
   * const audio = await src.publishAudio(mic, { codec: 'opus' });
   * // later: await audio.stop();
   * ```
   */
  publishAudio(input: MediaStream | AudioNode, options: PublishAudioOptions = {}): Promise<AudioPublisher> {
    return publishAudio(this, input, options);
  }

  /** Bytes handed to the socket and not yet sent (0 when not connected). */
  get bufferedAmount(): number {
    return this.conn.bufferedAmount;
  }

  /**
   * Appends a log record (process output, status, events). Records get producer sequence numbers
   * 1, 2, 3…; each is kept until the relay acknowledges it (LogAck) and every unacknowledged one is
   * sent again, in order, after a reconnect — the relay stores a resent record once. Never blocks.
   *
   * Bound: when unacknowledged records exceed `maxUnackedLogBytes` (64 MiB), the OLDEST are
   * dropped (counted in `logsDropped`) and an `error` event (LogOverflowError, at most one a
   * second) says how many: a stuck relay costs old lines, never the app's memory or liveness.
   */
  log(stream: LogStreamName, data: Uint8Array | string): void {
    this.appendLog(stream, typeof data === 'string' ? utf8Encode(data) : data, Date.now());
  }

  private appendLog(stream: LogStreamName, bytes: Uint8Array, time: number): void {
    const seq = ++this.logSeq;
    const frame = encodeMessage({ kind: 'log-record', offset: seq, time, stream, data: bytes, seq: this.nextSeq(), timestamp: Date.now() >>> 0 });
    const live = this.sendLive(frame);
    if (live && !this.relayAcks) {
      // A relay without acknowledgements: nothing to wait for.
      this.logAckedSeq = seq;
      return;
    }
    this.unacked.push({ seq, frame });
    this.unackedBytes += frame.length;
    this.enforceLogBound();
  }

  /**
   * Resolves once the relay acknowledged every record `log()`ed so far (records dropped by the
   * overflow policy count as settled). Rejects with LogAckTimeoutError after `timeoutMs` (default
   * 30 s), with the refusal error if the relay refuses this source, or ClosedError on close.
   */
  logsAcked(timeoutMs = 30_000): Promise<void> {
    const target = this.logSeq;
    const settled = () => this.unacked.length === 0 || this.unacked[0]!.seq > target;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LogAckTimeoutError(this.unacked.filter((r) => r.seq <= target).length, timeoutMs)), timeoutMs);
    });
    return Promise.race([this.waitFor(settled, 'logsAcked()'), timeout]).finally(() => clearTimeout(timer));
  }

  /** Unacknowledged log records held for resending. */
  get unackedLogs(): number {
    return this.unacked.length;
  }

  /** Sends pending changes now instead of at the end of the tick. */
  flush(): void {
    this.scheduled = false;
    if (!this.welcomed || !this.conn.connected || this.lastSent === undefined) return;
    const next = this.publicState();
    const diff = diffStates(this.lastSent, next);
    if (Object.keys(diff).length === 0) return;
    this.lastSent = next;
    this.lastFlushAt = Date.now();
    this.diffsSent++;
    this.conn.send(encodeFrame({ type: FrameType.SignalDiff, seq: this.nextSeq(), timestamp: Date.now() >>> 0 }, utf8Encode(JSON.stringify(diff))));
  }

  /**
   * Sends pending changes, waits (up to `closeTimeoutMs`, default 5000) until the relay has every
   * log record written so far, then closes; resolves once the connection has closed. Records still
   * unacknowledged at the deadline are reported as an `error` (LogAckTimeoutError) — not silently lost.
   */
  async close(): Promise<void> {
    if (this.unacked.length > 0 && !this.closing && (this.connectionState === 'live' || this.connectionState === 'connecting' || this.connectionState === 'reconnecting')) {
      try {
        await this.logsAcked(this.options.closeTimeoutMs ?? 5000);
      } catch (e) {
        if (e instanceof LogAckTimeoutError) this.report(e);
      }
    }
    if (this.throttleTimer !== undefined) clearTimeout(this.throttleTimer);
    this.links?.close();
    return this.closeEndpoint(() => this.flush());
  }

  // ------------------------------------------------------------------ lifecycle hooks

  protected override isFatal(code: number, reason: string): boolean {
    if (code === CloseCode.SourceConflict) return !this.options.waitForChannel;
    return super.isFatal(code, reason);
  }

  protected override onWelcome(w: Welcome): void {
    const state = this.publicState();
    const signals = this.options.output ? [...this.options.output] : Object.keys(state);
    this.conn.send(encodeMessage({ kind: 'schema-announce', schema: { signals, mode: this.options.mode ?? 'signal' } }));
    this.conn.send(encodeMessage({ kind: 'signal-sync', state, seq: this.nextSeq(), timestamp: Date.now() >>> 0 }));
    this.lastSent = state;
    this.pixelEncoder?.reset();
    // The current picture, published while offline or held by a relay that may have restarted.
    if (this.picture) this.sendPicture(this.picture.width, this.picture.height, this.picture.rgba);
    // Logs: drop what the relay already has, resend the rest in order.
    this.relayAcks = w.logAcked !== undefined;
    if (w.logAcked !== undefined) this.onLogAck(w.logAcked);
    for (const r of this.unacked) this.conn.send(r.frame);
    if (!this.relayAcks) this.settleAll();
  }

  protected override onLogAck(seq: number): void {
    if (seq > this.logAckedSeq) this.logAckedSeq = seq;
    let n = 0;
    while (n < this.unacked.length && this.unacked[n]!.seq <= seq) this.unackedBytes -= this.unacked[n++]!.frame.length;
    if (n > 0) this.unacked.splice(0, n);
    this.recheck();
  }

  protected override onEnd(): void {
    this.callQueue.length = 0;
    this.calls.clear();
  }

  protected onFrame(m: Message, bytes: Uint8Array): void {
    const sender = m.sender ?? 0;
    if (m.kind === 'input') {
      this.emit('input', { event: m.event, sender });
      if (m.event.input === 'action') this.emit('action', { action: m.event.action, sender });
    } else if (m.kind === 'rpc-call') this.onCall(m.call.id, m.call.method, m.call.params, sender, bytes);
    else if (m.kind === 'error') {
      // A non-fatal refusal of something we sent. A DeltaPixels with no base picture at the relay
      // (4400) asks for a keyframe: the next publishPixels sends one.
      if (m.error.code === CloseCode.BadFrame) this.pixelEncoder?.reset();
      this.report(new RelayError(m.error.code, m.error.message));
    }
  }

  // ------------------------------------------------------------------ internals

  private sendLive(bytes: Uint8Array): boolean {
    return this.welcomed && this.conn.send(bytes);
  }

  private settleAll(): void {
    this.unacked.length = 0;
    this.unackedBytes = 0;
    this.logAckedSeq = this.logSeq;
    this.recheck();
  }

  private enforceLogBound(): void {
    const limit = this.options.maxUnackedLogBytes ?? DEFAULT_MAX_UNACKED;
    let dropped = 0;
    while (this.unackedBytes > limit && this.unacked.length > 1) {
      this.unackedBytes -= this.unacked.shift()!.frame.length;
      dropped++;
    }
    if (dropped === 0) return;
    this.logsDropped += dropped;
    this.overflowPending += dropped;
    this.recheck();
    const now = Date.now();
    if (now - this.overflowReportedAt >= 1000) {
      this.overflowReportedAt = now;
      const n = this.overflowPending;
      this.overflowPending = 0;
      this.report(new LogOverflowError(n, limit));
    }
  }

  private onCall(id: string | number, method: string, params: JsonValue | undefined, sender: number, bytes: Uint8Array): void {
    const extra = callExtras(bytes);
    const key = `${sender}:${typeof id}:${id}`;
    if (extra.cancel) {
      const q = this.calls.get(key);
      if (q && !q.started) this.drop(q);
      return;
    }
    const q: QueuedCall = { key, id, method, params, sender, receivedAt: Date.now(), timeoutMs: extra.timeoutMs, started: false };
    this.calls.set(key, q);
    this.callQueue.push(q);
    this.schedulePump();
  }

  private drop(q: QueuedCall): void {
    this.calls.delete(q.key);
    const i = this.callQueue.indexOf(q);
    if (i >= 0) this.callQueue.splice(i, 1);
    this.callsDropped++;
  }

  // Handlers start on a later task, so a withdrawal that arrived in the same read wins.
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setTimeout(() => {
      this.pumpScheduled = false;
      this.pump();
    }, 0);
  }

  private pump(): void {
    const max = this.options.maxConcurrentCalls ?? Infinity;
    while (this.running < max && this.callQueue.length > 0) {
      const q = this.callQueue.shift()!;
      if (q.timeoutMs !== undefined && Date.now() - q.receivedAt >= q.timeoutMs) {
        // The caller has given up: starting the handler now would only run it for nobody.
        this.calls.delete(q.key);
        this.callsDropped++;
        continue;
      }
      q.started = true;
      this.running++;
      void this.answer(q).finally(() => {
        this.running--;
        this.calls.delete(q.key);
        this.pump();
      });
    }
  }

  private async answer(q: QueuedCall): Promise<void> {
    const { id, method, params, sender } = q;
    const fn = this.rpc.get(method);
    let reply: Message;
    if (!fn) reply = { kind: 'rpc-result', sender, result: { id, error: { code: 'not-found', message: `no handler for "${method}"` } } };
    else {
      try {
        const result = await fn(params, sender);
        reply = { kind: 'rpc-result', sender, result: result === undefined ? { id } : { id, result: toJsonValue(result, 'result') ?? null } };
      } catch (e) {
        reply = { kind: 'rpc-result', sender, result: { id, error: { code: 'handler-failed', message: (e as Error)?.message ?? String(e) } } };
      }
    }
    this.conn.send(encodeMessage(reply));
  }

  private nextSeq(): number {
    return (this.seq = (this.seq + 1) & 0xffff);
  }

  private publicState(): JsonObject {
    // A deep copy: later in-place mutations must not alter what we compare against.
    const plain = cloneJson(this.current) as JsonObject;
    return this.output ? projectState(plain, this.output) : plain;
  }

  private touch(path: string): void {
    this.snapshot = undefined;
    this.changed.add(path);
    if (!this.notifyScheduled) {
      this.notifyScheduled = true;
      queueMicrotask(() => {
        this.notifyScheduled = false;
        const paths = [...this.changed];
        this.changed = new Set();
        // get() copies the state: only when someone listens.
        if (paths.length > 0 && this.listenerCount('change') > 0) this.emit('change', { state: this.get(), paths });
      });
    }
    this.schedule();
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

  /**
   * A deep proxy: any set/delete at any depth is checked (JSON data only), copied in, and schedules
   * a flush. `path` is where `target` sits; inside an array every change is a change of the array.
   */
  private proxy(target: object, path: string): unknown {
    const existing = this.proxies.get(target);
    if (existing) return existing;
    this.paths.set(target, path);
    const isArray = Array.isArray(target);
    const at = (key: string) => (isArray ? path : path ? `${path}.${key}` : key);
    const unwrap = (o: object) => this.targets.get(o) ?? o;
    const p = new Proxy(target, {
      get: (t, key, recv) => {
        const v = Reflect.get(t, key, recv) as unknown;
        return typeof v === 'object' && v !== null && typeof key === 'string' ? this.proxy(v, at(key)) : v;
      },
      set: (t, key, value: unknown) => {
        if (typeof key === 'symbol') throw new InvalidValueError(path, 'a symbol key');
        const where = isArray ? `${path}.${key}` : at(key);
        if (isArray) {
          // Arrays are values: undefined/null elements become null, as in JSON.
          const plain = key === 'length' ? value : (toJsonValue(value, where, unwrap) ?? null);
          const ok = Reflect.set(t, key, plain);
          this.touch(path);
          return ok;
        }
        const plain = toJsonValue(value, where, unwrap);
        // Assigning undefined (or null) deletes, exactly like the JSON it becomes.
        if (plain === undefined || plain === null) Reflect.deleteProperty(t, key);
        else Reflect.defineProperty(t, key, { value: plain, writable: true, enumerable: true, configurable: true });
        this.touch(where);
        return true;
      },
      deleteProperty: (t, key) => {
        const ok = Reflect.deleteProperty(t, key);
        if (typeof key === 'string') this.touch(at(key));
        return ok;
      },
    });
    this.proxies.set(target, p);
    this.targets.set(p, target);
    return p;
  }
}

/** Top-level keys whose values differ between two states. */
function changedTop(a: Plain, b: Plain): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(k);
  }
  return out;
}

/** `timeoutMs` and `cancel` of an RpcCall (read from the JSON, as the codec may not keep them yet). */
function callExtras(bytes: Uint8Array): { timeoutMs?: number; cancel?: boolean } {
  try {
    const skip = HEADER_SIZE + ((bytes[1]! & Flag.Sender) !== 0 ? 4 : 0);
    const o = JSON.parse(utf8Decode(bytes.subarray(skip))) as { timeoutMs?: unknown; cancel?: unknown };
    const out: { timeoutMs?: number; cancel?: boolean } = {};
    if (Number.isSafeInteger(o.timeoutMs) && (o.timeoutMs as number) > 0) out.timeoutMs = o.timeoutMs as number;
    if (o.cancel === true) out.cancel = true;
    return out;
  } catch {
    return {};
  }
}

/** Creates a source publishing to `url` (e.g. `ws://localhost:9100/source/counter`). */
export function source<T extends object = Plain>(url: string, options: SourceOptions<T> = {}): Source<T> {
  return new Source<T>(url, options);
}

