/**
 * The Redis engine: relay nodes share channels through Redis (node-redis, Redis 7.0 commands,
 * so Valkey works too; every key of a channel under one hash tag, so Redis Cluster works).
 *
 * - One writer per channel: the node whose source holds the channel's lease (SET PX plus a
 *   fencing token from INCR). It applies an update to its own replica (the shared semantics of
 *   `applyUpdate`), computes what changes in Redis, and sends one script that checks the lease
 *   value, the channel offset and the channel epoch, writes, and publishes the update with its
 *   new offset on the channel's sharded pub/sub channel. A refused write closes the source
 *   (4409 when the lease is gone, 1011 otherwise) and the node resyncs from Redis.
 * - Every node serving a channel subscribes first, then reads a snapshot (one script), then
 *   applies published updates in offset order; a gap or another channel epoch means "resync from
 *   Redis", never a guess. Deliveries to this node's receivers carry `before` snapshots exactly as
 *   with the in-memory engine, so slow receivers conflate the same way.
 * - Inputs and RPC calls go to the source's node on the channel's own input channel; results
 *   come back on the caller's node channel.
 * - The engine epoch (`<prefix>:epoch`) changes when Redis lost its data; clients see it in the
 *   Welcome and resync.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { createClient, RESP_TYPES } from 'redis';
import { CloseCode } from '../../protocol/close-codes.js';
import { Flag, FrameType } from '../../protocol/frame-codes.js';
import { HEADER_SIZE, encodeFrame } from '../../protocol/header.js';
import { ProtocolError } from '../../protocol/errors.js';
import { decodeMessage, encodeMessage } from '../../protocol/message.js';
import { utf8Encode } from '../../protocol/utf8.js';
import type { JsonObject, JsonValue } from '../../protocol/utf8.js';
import { errorFrame } from '../channel.js';
import { UpdateRefused } from '../engine.js';
import type { ChannelSink, ClusterNode, Delivery, Engine, EngineChannel, EngineHost, EngineOptions, SourceUpdate } from '../engine.js';
import { StateCache } from '../state-cache.js';
import { applyUpdate } from './memory-engine.js';
import { beatNode, readNodes } from './redis-nodes.js';
import { decodeInput, decodeResult, decodeWire, encodeInput, encodeResult, encodeWire } from './redis-wire.js';
import type { UpdateHeader, WireHeader } from './redis-wire.js';
import { SCRIPTS } from './redis-scripts.js';
import type { ScriptName } from './redis-scripts.js';

export interface RedisEngineOptions extends EngineOptions {
  /** redis://host:port (rediss:// for TLS). */
  url: string;
  /** Namespaces every key and pub/sub channel. */
  prefix: string;
  /** Lease of a channel's writer; renewed every third of it. */
  leaseMs: number;
  /**
   * How long a channel's data outlives its source once no one is connected (ms), as the in-memory
   * engine keeps a channel: the grace period, and for a channel with log records `keepLogMs`
   * (the longer of grace and log retention).
   */
  keepMs: number;
  keepLogMs: number;
  log?: Logger | undefined;
}

/** The close code for "the relay could not store this update" (retryable). */
export const ENGINE_UNAVAILABLE = 1011;
/** Updates a source may send while its lease is being (re)confirmed; more close it. */
const MAX_QUEUED = 10_000;
/** DeltaPixels frames stored after a picture before the writer stores a whole keyframe instead. */
const MAX_STORED_DELTAS = 32;
/** Remote callers remembered (their RPC results are routed back); the oldest are forgotten. */
const MAX_PROXIES = 65_536;
const PROXY_BASE = 0x80000000;

type Arg = string | Buffer;
type Reply = Buffer | number | null | Reply[];
interface RawClient {
  sendCommand<T = Reply>(args: readonly Arg[]): Promise<T>;
}
type Listener = (message: Buffer, channel: Buffer) => void;
/** What the engine uses of a node-redis client. */
interface Client {
  readonly isReady: boolean;
  sSubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  sUnsubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  destroy(): void;
}

const str = (r: Reply | undefined): string => (Buffer.isBuffer(r) ? r.toString('utf8') : r === null || r === undefined ? '' : String(r));
const list = (r: Reply | undefined): Reply[] => (Array.isArray(r) ? r : []);
const buf = (r: Reply | undefined): Buffer => (Buffer.isBuffer(r) ? r : Buffer.alloc(0));

function flatMap(r: Reply | undefined): Map<string, Buffer> {
  const a = list(r);
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < a.length; i += 2) m.set(str(a[i]), buf(a[i + 1]));
  return m;
}

const EMPTY_KEYFRAME = encodeFrame({ type: FrameType.Keyframe, flags: Flag.Keyframe });

interface Writer {
  state: 'idle' | 'acquiring' | 'held' | 'lost';
  /** Lease value "<node>:<token>" while held. */
  value: string;
  /** The lease may have expired after this (renewals count from when they were sent). */
  validUntil: number;
  /** Updates received while the lease is being taken or confirmed. */
  queue: SourceUpdate[];
  /** Bumped whenever the writer's run ends: replies for older runs are ignored. */
  gen: number;
  /** Called once the lease is held (the source gets its Welcome then). */
  admitted: (() => void) | undefined;
}

export class RedisEngine implements Engine {
  readonly name = 'redis';
  private epochValue = '';
  private host: EngineHost | undefined;
  readonly channels = new Map<string, RedisChannel>();
  private readonly shas = new Map<ScriptName, string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private redisDown = false;
  /** Proxy receiver id (given to a remote caller's frame) → where its results go. */
  private readonly proxies = new Map<number, { node: string; receiver: number }>();
  private nextProxy = 0;
  private readonly pending = new Set<Promise<void>>();

  private constructor(
    readonly nodeId: string,
    readonly options: RedisEngineOptions,
    private readonly client: Client,
    private readonly raw: RawClient,
    readonly sub: Client,
  ) {
    for (const [name, text] of Object.entries(SCRIPTS)) this.shas.set(name as ScriptName, createHash('sha1').update(text).digest('hex'));
    this.timer = setInterval(() => this.heartbeat(), Math.max(50, Math.floor(options.leaseMs / 3)));
    this.timer.unref();
  }

  /** Connects (command and subscriber connections), reads or creates the epoch, subscribes to this node's channel. */
  static async connect(options: RedisEngineOptions): Promise<RedisEngine> {
    const nodeId = randomBytes(6).toString('hex');
    const client = createClient({ url: options.url, name: `sluice-${nodeId}`, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(50 * 2 ** n, 1000) } });
    // Named, so an operator (or a test) can tell a node's connections apart in CLIENT LIST.
    const sub = client.duplicate({ name: `sluice-sub-${nodeId}` });
    let warned = false;
    const onError = (e: Error) => {
      if (!warned) options.log?.warn({ err: e }, 'redis engine: connection error');
      warned = true;
    };
    client.on('error', onError);
    sub.on('error', onError);
    client.on('ready', () => (warned = false));
    await client.connect();
    await sub.connect();
    const raw = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as RawClient;
    const engine = new RedisEngine(nodeId, options, client as unknown as Client, raw, sub as unknown as Client);
    await engine.loadScripts();
    await engine.checkEpoch();
    await sub.sSubscribe(engine.nodeChannel, (m: Buffer) => engine.onResult(m), true);
    // After a reconnect, pub/sub messages may have been lost: every channel reads Redis again.
    sub.on('ready', () => engine.resyncAll());
    client.on('ready', () => {
      // Before anything else on the new connection: a restarted Redis has no scripts.
      void engine.loadScripts().catch(() => {});
      engine.redisDown = false;
      void engine.checkEpoch().catch(() => {});
    });
    return engine;
  }

  get epoch(): string {
    return this.epochValue;
  }

  get ready(): boolean {
    return !this.closed && !this.redisDown && this.client.isReady && this.sub.isReady && this.epochValue !== '';
  }

  /** The channel lifetimes the scripts keep data for: grace, and log channels'. */
  get keepArgs(): [string, string] {
    return [String(this.options.keepMs), String(this.options.keepLogMs)];
  }

  get prefix(): string {
    return this.options.prefix;
  }

  get nodeChannel(): string {
    return `${this.options.prefix}:node:${this.nodeId}`;
  }

  get hooks(): EngineHost | undefined {
    return this.host;
  }

  bind(host: EngineHost): void {
    this.host = host;
  }

  openChannel(name: string, sink: ChannelSink): EngineChannel {
    const c = new RedisChannel(this, name, sink);
    this.channels.set(name, c);
    c.start();
    return c;
  }

  forget(c: RedisChannel): void {
    if (this.channels.get(c.name) === c) this.channels.delete(c.name);
  }

  /**
   * Loads every script (SCRIPT LOAD) on the command connection. Sent when the connection becomes
   * ready and before any write on it, so writes pipelined after it find their scripts: with a cold
   * cache, per-write NOSCRIPT retries would reach Redis out of order (a later EVALSHA succeeding
   * once an earlier write's EVAL retry cached the script) and the write script would refuse them.
   */
  async loadScripts(): Promise<void> {
    await Promise.all(Object.values(SCRIPTS).map((text) => this.raw.sendCommand(['SCRIPT', 'LOAD', text])));
  }

  /**
   * Runs a script by its SHA. NOSCRIPT (an operator's SCRIPT FLUSH; a restart is handled by
   * loadScripts on reconnect) falls back to EVAL and reloads the scripts; a write that reaches
   * Redis out of order meanwhile is refused by its offset check, never applied twice or skipped.
   */
  async run(script: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<Reply> {
    try {
      return await this.raw.sendCommand<Reply>(['EVALSHA', this.shas.get(script)!, String(keys.length), ...keys, ...args]);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) {
        this.noteFailure(e);
        throw e;
      }
      void this.loadScripts().catch(() => {});
      return this.raw.sendCommand<Reply>(['EVAL', SCRIPTS[script], String(keys.length), ...keys, ...args]);
    }
  }

  /** Fire-and-forget publish on a sharded channel. */
  publish(channel: string, message: Buffer): void {
    this.raw.sendCommand(['SPUBLISH', channel, message]).catch((e: unknown) => this.noteFailure(e));
  }

  private noteFailure(e: unknown): void {
    if (e instanceof Error && !e.message.startsWith('NOSCRIPT') && !/^[A-Z]+ /.test(e.message)) this.redisDown = true;
  }

  /** The engine epoch: created when missing (a fresh or flushed Redis); a change resyncs everything. */
  async checkEpoch(): Promise<void> {
    const key = `${this.options.prefix}:epoch`;
    await this.raw.sendCommand(['SET', key, randomUUID(), 'NX']);
    const value = str(await this.raw.sendCommand<Reply>(['GET', key]));
    this.redisDown = false;
    if (value === this.epochValue) return;
    const changed = this.epochValue !== '';
    this.epochValue = value;
    if (changed) {
      this.options.log?.warn({ epoch: value }, 'redis engine: epoch changed (Redis lost its data); resyncing every channel');
      for (const c of this.channels.values()) c.dataLost();
    }
  }

  private resyncAll(): void {
    for (const c of this.channels.values()) c.resync();
  }

  private heartbeat(): void {
    if (this.closed) return;
    this.checkEpoch().catch((e: unknown) => {
      this.noteFailure(e);
      this.redisDown = true;
    });
    for (const c of this.channels.values()) c.heartbeat();
    const load = this.host?.nodeLoad?.();
    if (load) beatNode((a) => this.raw.sendCommand(a), this.options.prefix, this.nodeId, load, this.options.leaseMs).catch(() => {});
  }

  /** The relay nodes of this cluster (see redis-nodes.ts). */
  clusterNodes(): Promise<ClusterNode[]> {
    return readNodes((a) => this.raw.sendCommand(a), this.options.prefix, this.nodeId, this.options.leaseMs);
  }

  /** A proxy id for a caller on another node: the source answers it like a local receiver. */
  proxyFor(node: string, receiver: number): number {
    const id = PROXY_BASE + this.nextProxy;
    this.nextProxy = (this.nextProxy + 1) % (0xffffffff - PROXY_BASE);
    this.proxies.delete(id);
    this.proxies.set(id, { node, receiver });
    if (this.proxies.size > MAX_PROXIES) this.proxies.delete(this.proxies.keys().next().value!);
    return id;
  }

  proxy(id: number): { node: string; receiver: number } | undefined {
    return this.proxies.get(id);
  }

  private onResult(m: Buffer): void {
    try {
      const r = decodeResult(m);
      this.channels.get(r.channel)?.sink.toReceiver(r.receiver, r.frame);
    } catch (e) {
      this.options.log?.warn({ err: e }, 'redis engine: bad result message');
    }
  }

  sendResult(node: string, channel: string, receiver: number, frame: Uint8Array): void {
    this.publish(`${this.options.prefix}:node:${node}`, encodeResult(channel, receiver, frame));
  }

  /** Remembers a command that must reach Redis before the engine closes (lease releases). */
  track(p: Promise<unknown>): Promise<void> {
    const q = p.then(
      () => {},
      () => {},
    );
    this.pending.add(q);
    void q.then(() => this.pending.delete(q));
    return q;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    for (const c of this.channels.values()) void c.releaseLease();
    // Leases released now are free at once for sources reconnecting to other nodes.
    await Promise.race([Promise.all(this.pending), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.closed = true;
    this.client.destroy();
    this.sub.destroy();
  }
}

export class RedisChannel implements EngineChannel {
  readonly cache: StateCache;
  sourceOnline = false;
  sourceSince = Date.now();
  /** Node holding the lease ('' when none). */
  private holder = '';
  /** Last applied update offset and the channel epoch it belongs to. */
  private offset = 0;
  private ce = '';
  private loading = true;
  private buffered: Buffer[] = [];
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  private resyncFailed = false;
  private subscribed: Promise<void> | undefined;
  private inputSubscribed = false;
  private released = false;
  private storedDeltas = 0;
  /** Writes and renewals sent for the writer and not answered yet, and since when none was. */
  private unanswered = 0;
  private unansweredSince = 0;
  private silenceSeen = false;
  /** Receivers of this channel on every node, as of the last heartbeat (undefined before it). */
  clusterReceivers: number | undefined;
  /** The channel offset Redis had at the last heartbeat. */
  private peeked = 0;
  private readonly w: Writer = { state: 'idle', value: '', validUntil: 0, queue: [], gen: 0, admitted: undefined };
  private readonly keys: string[];
  private readonly pubUpdates: string;
  private readonly pubInputs: string;
  private readonly onUpdate = (m: Buffer) => this.received(m);
  private readonly onInput = (m: Buffer) => this.inputReceived(m);

  constructor(
    private readonly engine: RedisEngine,
    readonly name: string,
    readonly sink: ChannelSink,
  ) {
    const o = engine.options;
    this.cache = new StateCache(o.logRetainRecords, o.logRetainBytes);
    const base = `${o.prefix}:{${name}}`;
    this.keys = ['meta', 'lease', 'state', 'schema', 'pic', 'deltas', 'log', 'fence', 'rc'].map((k) => `${base}:${k}`);
    this.pubUpdates = `${base}:u`;
    this.pubInputs = `${base}:in`;
  }

  private get log(): Logger | undefined {
    return this.engine.options.log;
  }

  start(): void {
    this.resync();
  }

  // ---------------------------------------------------------------- reading

  /** Subscribe (once), then read the snapshot and apply it; then the updates buffered meanwhile. */
  resync(): void {
    if (this.released) return;
    this.loading = true;
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        this.loading = true;
        this.subscribed ??= this.engine.sub.sSubscribe(this.pubUpdates, this.onUpdate, true);
        try {
          await this.subscribed;
        } catch (e) {
          this.subscribed = undefined;
          throw e;
        }
        const snap = await this.engine.run('snapshot', this.keys, [String(this.cache.log.next), this.cache.log.producer ?? '']);
        if (this.released) return;
        this.applySnapshot(snap);
        // Then what was published meanwhile; a gap in it asks for another round (resyncAgain).
        this.loading = false;
        const pending = this.buffered;
        this.buffered = [];
        for (const m of pending) this.received(m);
      } while (this.resyncAgain);
      this.resyncFailed = false;
      if (this.w.state === 'held') this.flushQueue();
    })()
      .catch((e: unknown) => {
        // Redis is unreachable: the heartbeat tries again.
        this.resyncFailed = true;
        this.resyncAgain = false;
        this.log?.debug({ err: e, channel: this.name }, 'redis engine: resync failed');
      })
      .finally(() => {
        this.resyncing = undefined;
        // Asked for again after the last round ended (a gap seen in between): one more round.
        if (this.resyncAgain) {
          this.resyncAgain = false;
          this.resync();
        }
      });
  }

  private applySnapshot(snap: Reply): void {
    const [metaR, stateR, schemaR, picR, deltasR, leaseR, logR, fullR] = list(snap);
    const meta = flatMap(metaR);
    const m = (k: string) => meta.get(k)?.toString('utf8');
    const cache = this.cache;
    // State: the hash holds one JSON value per top-level field.
    const fields = flatMap(stateR);
    const stored = m('hs') === '1' || fields.size > 0;
    if (stored || cache.hasState) {
      const state: JsonObject = {};
      for (const [k, v] of fields) state[k] = JSON.parse(v.toString('utf8')) as JsonValue;
      const before = cache.snapshot();
      const diff = cache.applySync(state);
      if (!before.hadState || Object.keys(diff).length > 0) this.sink.deliver({ kind: 'diff', diff, before, raw: undefined, first: !before.hadState });
      // Redis has no state (what this replica had was refused, expired or lost): the next
      // state written here is the channel's first, and marks it as such in Redis.
      if (!stored) cache.hasState = false;
    }
    const schema = buf(schemaR);
    if (schema.length > 0 && (cache.schemaFrame === undefined || !schema.equals(cache.schemaFrame))) {
      cache.schemaFrame = new Uint8Array(schema);
      this.sink.deliver({ kind: 'schema', raw: cache.schemaFrame });
    }
    const pic = buf(picR);
    if (pic.length > 0) {
      this.setPicture(new Uint8Array(pic));
      for (const d of list(deltasR)) this.applyDelta(new Uint8Array(buf(d)));
      const frame = cache.pictureFrame();
      if (frame) this.sink.deliver({ kind: 'picture', raw: frame });
    } else if (cache.hasPicture) {
      cache.clearPicture();
      this.sink.deliver({ kind: 'picture-reset', raw: EMPTY_KEYFRAME });
    }
    this.storedDeltas = list(deltasR).length;
    // Log: the records after ours, or all of them when our history does not continue Redis's.
    const log = cache.log;
    const lf = Number(m('lf') ?? 0);
    const entries = list(logR);
    if (fullR === 1) {
      log.restart();
      log.first = lf;
      log.next = lf;
    }
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const offset = parseInt(str(entries[i]), 10) - 1;
      if (offset !== log.next) {
        if (log.size > 0) break;
        log.first = offset;
        log.next = offset;
      }
      const frame = new Uint8Array(buf(entries[i + 1]));
      log.append(frame);
      this.sink.deliver({ kind: 'log', raw: frame, offset });
    }
    log.producer = m('pr') || undefined;
    log.producerSeq = Number(m('ps') ?? 0);
    this.offset = Number(m('off') ?? 0);
    this.ce = m('ep') ?? '';
    if (this.w.state === 'idle') {
      const lease = str(leaseR);
      this.setStatus(lease.split(':')[0] ?? '', Number(m('ss') ?? Date.now()));
    }
  }

  /** Records who holds the lease; receivers hear when online/offline changes. */
  private setStatus(holder: string, since: number): void {
    this.holder = holder;
    const online = holder !== '';
    if (online === this.sourceOnline) return;
    this.sourceOnline = online;
    this.sourceSince = since || Date.now();
    this.sink.sourceStatus(online, this.sourceSince);
  }

  private setPicture(frame: Uint8Array): void {
    const m = decodeMessage(frame, { maxPayload: frame.length });
    if (m.kind === 'compressed-pixels') this.cache.setCompressedPicture(frame);
    else if (m.kind === 'keyframe' || m.kind === 'pixels') this.cache.setPicture(m.width, m.height, m.data, m.timestamp ?? 0);
  }

  private applyDelta(frame: Uint8Array): boolean {
    const m = decodeMessage(frame, { maxPayload: frame.length });
    return m.kind === 'delta-pixels' && this.cache.applyPictureDelta(m.width, m.height, m.data, m.timestamp ?? 0);
  }

  /** A message on the channel's pub/sub: status, or the next update (else a resync). */
  private received(m: Buffer): void {
    if (this.released) return;
    let header: WireHeader;
    let payload: Uint8Array;
    try {
      ({ header, payload } = decodeWire(m));
    } catch (e) {
      this.log?.warn({ err: e, channel: this.name }, 'redis engine: bad update message');
      return;
    }
    if (header.k === 'st') return this.statusReceived(header.n, header.on, header.since);
    if (this.loading) {
      // Updates that arrive while the snapshot is read; too many: read it again afterwards.
      if (this.buffered.length < MAX_QUEUED) this.buffered.push(m);
      else {
        this.buffered = [];
        this.resyncAgain = true;
      }
      return;
    }
    if (header.ce !== this.ce) {
      if (this.ce === '' && this.offset === 0 && header.o === 1) this.ce = header.ce;
      else return this.resync();
    }
    if (header.o <= this.offset) return; // already applied (our own write, or read in the snapshot)
    if (header.o !== this.offset + 1) return this.resync();
    try {
      if (!this.applyRemote(header, payload)) return this.resync();
    } catch (e) {
      this.log?.warn({ err: e, channel: this.name }, 'redis engine: update could not be applied; resyncing');
      return this.resync();
    }
  }

  private statusReceived(node: string, online: boolean, since: number): void {
    if (node === this.engine.nodeId) return;
    if (online && this.w.state === 'held') {
      // Another node took the lease: our writes would be refused from now on.
      this.lose(CloseCode.SourceConflict, 'taken over by a source on another relay node');
    }
    if (this.w.state !== 'idle') return;
    if (online) this.setStatus(node, since);
    else if (this.holder === node) this.setStatus('', since);
  }

  /** Applies an update written by another node. False: it does not fit our replica. */
  private applyRemote(h: UpdateHeader, payload: Uint8Array): boolean {
    const cache = this.cache;
    let d: Delivery | undefined;
    switch (h.k) {
      case 'd': {
        const diff = JSON.parse(new TextDecoder().decode(payload)) as JsonObject;
        const before = cache.snapshot();
        if (cache.applyDiff(diff)) d = { kind: 'diff', diff, before, raw: undefined, first: !before.hadState };
        else if (!before.hadState) d = { kind: 'diff', diff: {}, before, raw: undefined, first: true };
        break;
      }
      case 's':
        cache.schemaFrame = payload;
        d = { kind: 'schema', raw: payload };
        break;
      case 'p':
        this.setPicture(payload);
        d = { kind: 'picture', raw: payload };
        break;
      case 'x':
        if (!this.applyDelta(payload)) return false;
        d = { kind: 'delta', raw: payload };
        break;
      case 'r':
        cache.clearPicture();
        d = { kind: 'picture-reset', raw: payload };
        break;
      case 'l': {
        const log = cache.log;
        if (h.rs === 1) {
          log.restart();
          log.first = h.lo ?? log.next;
          log.next = log.first;
        }
        if (h.lo !== log.next) return false;
        if (h.pr !== undefined) {
          log.producer = h.pr;
          log.producerSeq = h.ps ?? 0;
        }
        log.append(payload);
        d = { kind: 'log', raw: payload, offset: h.lo };
        break;
      }
      case 'm':
        d = { kind: 'media', raw: payload };
        break;
      case 'e':
        d = { kind: 'end', raw: payload };
        break;
    }
    this.offset = h.o;
    if (d) this.sink.deliver(d);
    return true;
  }

  // ---------------------------------------------------------------- writing

  publish(update: SourceUpdate): number | undefined {
    const w = this.w;
    if (w.state === 'idle' || w.state === 'lost') return undefined;
    if (w.state === 'held' && Date.now() >= w.validUntil) {
      // We may have been paused past our lease: confirm it before writing anything.
      w.state = 'acquiring';
      void this.confirmLease(w.gen);
    }
    if (w.state === 'acquiring' || this.loading) {
      if (w.queue.length >= MAX_QUEUED) this.lose(ENGINE_UNAVAILABLE, 'too many updates while the relay confirms this source with Redis');
      else w.queue.push(update);
      return undefined;
    }
    this.commit(update);
    return undefined;
  }

  /** Applies an update to our replica, delivers it here and writes it to Redis (in order). */
  private commit(update: SourceUpdate): void {
    const w = this.w;
    const cache = this.cache;
    const log = cache.log;
    const prevProducer = log.producer;
    const prevNext = log.next;
    const d = applyUpdate(cache, update); // throws for a bad delta before anything changed
    const acks = update.kind === 'log' && update.producer !== undefined;
    if (d === undefined) {
      if (acks) this.ackWhenStored(w.gen, log.producerSeq);
      return;
    }
    const ops: Arg[] = [];
    let header: UpdateHeader;
    let payload: Uint8Array;
    const base = { o: this.offset + 1, ce: this.ce, n: this.engine.nodeId };
    switch (d.kind) {
      case 'diff': {
        for (const k of Object.keys(d.diff)) {
          if (Object.prototype.hasOwnProperty.call(cache.state, k)) ops.push('hs', k, JSON.stringify(cache.state[k]));
          else ops.push('hd', k);
        }
        // Every state write says the channel has a state: what marks it never depends on this
        // replica's idea of whether it is the first.
        ops.push('m', 'hs', '1');
        header = { ...base, k: 'd' };
        payload = utf8Encode(JSON.stringify(d.diff));
        break;
      }
      case 'schema':
        ops.push('sc', Buffer.from(d.raw));
        header = { ...base, k: 's' };
        payload = d.raw;
        break;
      case 'picture':
        ops.push('pi', Buffer.from(d.raw));
        this.storedDeltas = 0;
        header = { ...base, k: 'p' };
        payload = d.raw;
        break;
      case 'delta':
        if (++this.storedDeltas > MAX_STORED_DELTAS) {
          // Store the whole picture now and then, so a joiner never replays a long chain.
          ops.push('pi', Buffer.from(cache.pictureFrame()!));
          this.storedDeltas = 0;
        } else ops.push('dl', Buffer.from(d.raw));
        header = { ...base, k: 'x' };
        payload = d.raw;
        break;
      case 'picture-reset':
        ops.push('pd');
        this.storedDeltas = 0;
        header = { ...base, k: 'r' };
        payload = d.raw;
        break;
      case 'log': {
        const o = this.engine.options;
        const restarted = update.kind === 'log' && update.producer !== undefined && prevProducer !== update.producer && prevNext > 0;
        if (restarted) ops.push('lr', String(prevNext));
        ops.push('xa', String(d.offset), Buffer.from(d.raw), String(o.logRetainRecords), String(o.logRetainBytes));
        if (log.producer !== undefined) ops.push('m', 'pr', log.producer, 'm', 'ps', String(log.producerSeq));
        header = { ...base, k: 'l', lo: d.offset, ...(log.producer !== undefined ? { pr: log.producer, ps: log.producerSeq } : {}), ...(restarted ? { rs: 1 as const } : {}) };
        payload = d.raw;
        break;
      }
      case 'media':
        header = { ...base, k: 'm' };
        payload = d.raw;
        break;
      case 'end':
        header = { ...base, k: 'e' };
        payload = d.raw;
        break;
    }
    const prev = this.offset;
    this.offset = prev + 1;
    const gen = w.gen;
    const written = this.awaited(this.engine.run('write', this.keys, [w.value, String(prev), this.ce, this.pubUpdates, encodeWire(header, payload), ...ops])).then(
      (r) => {
        const [code, info] = list(r);
        if (code === 1) return true;
        if (gen === this.w.gen) {
          if (code === -1) this.lose(CloseCode.SourceConflict, 'this source lost the channel (taken over on another relay node, or its lease expired)');
          else this.lose(ENGINE_UNAVAILABLE, `the relay's copy of the channel was out of date (${code === -2 ? `offset ${str(info)}` : 'epoch changed'}); reconnect`);
        }
        return false;
      },
      (e: unknown) => {
        if (gen === this.w.gen) {
          this.log?.warn({ err: e, channel: this.name }, 'redis engine: write failed');
          this.lose(ENGINE_UNAVAILABLE, 'the relay cannot store updates now (Redis unreachable); reconnect later');
        }
        return false;
      },
    );
    this.sink.deliver(d);
    if (acks) {
      const seq = log.producerSeq;
      void written.then((ok) => {
        if (ok && gen === this.w.gen) this.engine.hooks?.ackSource(this.name, seq);
      });
    }
  }

  private ackWhenStored(gen: number, seq: number): void {
    // Nothing new to store: acknowledge once whatever is in flight is stored (a ping orders it).
    void this.engine.run('peek', this.keys, []).then(
      () => {
        if (gen === this.w.gen && this.w.state === 'held') this.engine.hooks?.ackSource(this.name, seq);
      },
      () => {},
    );
  }

  private flushQueue(): void {
    const w = this.w;
    while (w.state === 'held' && !this.loading && w.queue.length > 0) {
      const u = w.queue.shift()!;
      try {
        this.commit(u);
      } catch (e) {
        if (e instanceof ProtocolError) this.engine.hooks?.closeSource(this.name, e.closeCode, e.message);
        else if (e instanceof UpdateRefused) this.sink.toSource(errorFrame(CloseCode.BadFrame, e.message));
        else throw e;
      }
    }
  }

  /** The writer's run ends: its source is closed, and our replica is read again from Redis. */
  private lose(code: number, reason: string): void {
    const w = this.w;
    if (w.state === 'idle' || w.state === 'lost') return;
    w.state = 'lost';
    w.gen++;
    w.queue = [];
    w.admitted = undefined;
    this.log?.info({ channel: this.name, code, reason }, 'redis engine: source closed');
    this.engine.hooks?.closeSource(this.name, code, reason);
    this.resync();
  }

  setSourceOnline(online: boolean, requestedAt = Date.now(), admitted?: () => void): void {
    const w = this.w;
    w.admitted = undefined;
    if (online) {
      w.gen++;
      w.state = 'acquiring';
      w.value = '';
      w.queue = [];
      w.admitted = admitted;
      if (!this.inputSubscribed) {
        this.inputSubscribed = true;
        this.engine.sub.sSubscribe(this.pubInputs, this.onInput, true).catch(() => (this.inputSubscribed = false));
      }
      void this.acquire(w.gen, requestedAt);
      return;
    }
    const wasHolder = w.state === 'held';
    void this.releaseLease();
    w.gen++;
    w.state = 'idle';
    w.queue = [];
    if (this.inputSubscribed) {
      this.inputSubscribed = false;
      this.engine.sub.sUnsubscribe(this.pubInputs, this.onInput, true).catch(() => {});
    }
    if (wasHolder) this.setStatus('', Date.now());
    this.resync(); // learn who holds the channel now
  }

  private async acquire(gen: number, connectedAt: number): Promise<void> {
    const e = this.engine;
    const w = this.w;
    const now = Date.now();
    // A Redis that hangs (a partition, SIGSTOP) answers nothing, not an error: the source, waiting
    // for its Welcome, is told within one lease period instead of never. A late answer finds a
    // newer generation and releases what it took.
    const waitMs = Math.max(1000, e.options.leaseMs);
    const deadline = setTimeout(() => {
      if (gen === w.gen && w.state === 'acquiring') this.lose(ENGINE_UNAVAILABLE, `Redis did not answer within ${waitMs} ms; reconnect later`);
    }, waitMs);
    deadline.unref();
    try {
      const force = e.hooks?.takesOver(this.name) ?? false;
      const status = encodeWire({ k: 'st', n: e.nodeId, on: true, since: now });
      const r = list(await e.run('acquire', this.keys, [e.nodeId, String(e.options.leaseMs), force ? '1' : '0', String(now), this.pubUpdates, status, String(connectedAt)]));
      const value = str(r[1]);
      this.log?.debug({ channel: this.name, taken: r[0] === 1, lease: value, connectedAt, force }, 'redis engine: lease acquisition');
      if (gen !== w.gen) {
        if (r[0] === 1) void e.run('release', this.keys, [value, String(Date.now()), this.pubUpdates, encodeWire({ k: 'st', n: e.nodeId, on: false, since: Date.now() }), ...e.keepArgs]).catch(() => {});
        return;
      }
      if (r[0] !== 1) {
        this.lose(CloseCode.SourceConflict, force ? `channel "${this.name}" was taken over by a newer source` : `channel "${this.name}" already has a source (on another relay node)`);
        return;
      }
      w.value = value;
      w.validUntil = now + e.options.leaseMs;
      // Our replica must be Redis's before we write on top of it.
      this.resync();
      while (this.resyncing) await this.resyncing;
      if (gen !== w.gen) return;
      if (this.loading) throw new Error('snapshot failed');
      if (this.ce === '') this.ce = randomBytes(6).toString('hex');
      w.state = 'held';
      this.holder = e.nodeId;
      const admitted = w.admitted;
      w.admitted = undefined;
      admitted?.();
      if (!this.sourceOnline) {
        this.sourceOnline = true;
        this.sourceSince = now;
        this.sink.sourceStatus(true, now);
      }
      this.flushQueue();
    } catch (err) {
      if (gen === w.gen) {
        this.log?.warn({ err, channel: this.name }, 'redis engine: could not take the lease');
        this.lose(ENGINE_UNAVAILABLE, 'the relay cannot reach Redis; reconnect later');
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /** This node's entry in the channel's receiver counts: node id, count, now, entry lifetime. */
  private receiverArgs(now: number): string[] {
    const o = this.engine.options;
    return [this.engine.nodeId, String(this.engine.hooks?.receiverCount(this.name) ?? 0), String(now), String(o.leaseMs)];
  }

  /** Renews the lease; false when it is not ours any more. */
  private async renew(): Promise<boolean> {
    const e = this.engine;
    const sent = Date.now();
    const r = list(await this.awaited(e.run('renew', this.keys, [this.w.value, String(e.options.leaseMs), ...e.keepArgs, ...this.receiverArgs(sent)])));
    if (r[0] !== 1) return false;
    if (typeof r[1] === 'number') this.clusterReceivers = r[1];
    this.w.validUntil = sent + e.options.leaseMs;
    return true;
  }

  private async confirmLease(gen: number): Promise<void> {
    try {
      const ok = await this.renew();
      if (gen !== this.w.gen) return;
      if (!ok) return this.lose(CloseCode.SourceConflict, 'this source lost the channel (its lease expired while the relay was not running)');
      this.w.state = 'held';
      this.flushQueue();
    } catch {
      if (gen === this.w.gen) this.lose(ENGINE_UNAVAILABLE, 'the relay cannot reach Redis; reconnect later');
    }
  }

  /** Drops the lease if we hold it (the source left, or the node shuts down); the engine waits for it on close. */
  releaseLease(): Promise<void> {
    const w = this.w;
    if (w.value === '') return Promise.resolve();
    const e = this.engine;
    const value = w.value;
    w.value = '';
    const now = Date.now();
    return e.track(e.run('release', this.keys, [value, String(now), this.pubUpdates, encodeWire({ k: 'st', n: e.nodeId, on: false, since: now }), ...e.keepArgs]));
  }

  /** Redis lost its data (the engine epoch changed): a writer's source must send its state again. */
  dataLost(): void {
    this.lose(ENGINE_UNAVAILABLE, 'Redis lost the channel data; reconnect and send the state again');
    this.resync();
  }

  /** Counts a request the writer waits on; a Redis that stops answering is noticed in heartbeat(). */
  private awaited<T>(p: Promise<T>): Promise<T> {
    if (this.unanswered++ === 0) this.unansweredSince = Date.now();
    const answered = () => {
      this.unanswered--;
      this.unansweredSince = Date.now();
    };
    p.then(answered, answered);
    return p;
  }

  heartbeat(): void {
    if (this.released) return;
    const w = this.w;
    // A hung Redis (a partition) answers nothing and raises nothing: past a lease period with no
    // answer the writer cannot hold its lease anyway; its source is closed instead of its updates
    // piling up unanswered.
    const waitMs = Math.max(1000, this.engine.options.leaseMs);
    // Seen at two heartbeats in a row, so answers already read but not yet handled after a long
    // event-loop stall (timers run before I/O callbacks) are not mistaken for silence.
    if ((w.state === 'held' || w.state === 'acquiring') && this.unanswered > 0 && Date.now() - this.unansweredSince > waitMs) {
      if (this.silenceSeen) {
        this.silenceSeen = false;
        this.lose(ENGINE_UNAVAILABLE, `Redis did not answer within ${waitMs} ms; reconnect later`);
        return;
      }
      this.silenceSeen = true;
    } else this.silenceSeen = false;
    if ((this.resyncFailed || this.loading) && !this.resyncing) this.resync();
    if (w.state === 'held') {
      const gen = w.gen;
      this.renew().then(
        (ok) => {
          if (!ok && gen === this.w.gen) this.lose(CloseCode.SourceConflict, 'this source lost the channel (taken over on another relay node, or its lease expired)');
        },
        () => {
          if (gen === this.w.gen && Date.now() >= this.w.validUntil) this.lose(ENGINE_UNAVAILABLE, 'the relay cannot reach Redis; reconnect later');
        },
      );
      return;
    }
    if (w.state !== 'idle' || this.loading) return;
    // Without the lease: the holder may have died (its lease expired) or Redis may have been reset.
    this.engine.run('peek', this.keys, [...this.engine.keepArgs, ...this.receiverArgs(Date.now())]).then(
      (r) => {
        const sum = list(r)[4];
        if (typeof sum === 'number') this.clusterReceivers = sum;
        if (this.w.state !== 'idle' || this.loading) return;
        const [lease, ss, off, ep] = list(r).map(str);
        // Behind what Redis had at the last heartbeat (an update message was lost), or data reset.
        const behind = this.peeked > this.offset;
        this.peeked = Number(off ?? 0);
        if ((ep ?? '') !== this.ce || this.peeked < this.offset || behind) return this.resync();
        this.setStatus((lease ?? '').split(':')[0] ?? '', Number(ss ?? 0));
      },
      () => {},
    );
  }

  // ---------------------------------------------------------------- inputs and RPC

  sendToSource(frame: Uint8Array): boolean {
    if (this.w.state !== 'idle') return this.sink.toSource(frame);
    if (!this.sourceOnline || this.holder === '' || this.holder === this.engine.nodeId) return false;
    this.engine.publish(this.pubInputs, encodeInput(this.engine.nodeId, frame));
    return true;
  }

  private inputReceived(m: Buffer): void {
    if (this.w.state === 'idle') return;
    const { node, frame } = decodeInput(m);
    if (node === this.engine.nodeId || frame.length < HEADER_SIZE + 4) return;
    const v = new DataView(frame.buffer, frame.byteOffset + HEADER_SIZE, 4);
    const caller = v.getUint32(0, true);
    v.setUint32(0, this.engine.proxyFor(node, caller), true);
    if (this.sink.toSource(frame) || frame[0] !== FrameType.RpcCall) return;
    // The source is not reading: the caller learns it, as a caller on this node would.
    try {
      const m = decodeMessage(frame, { maxPayload: frame.length });
      if (m.kind !== 'rpc-call') return;
      const error = { code: 'source-busy', message: 'the source is not keeping up; call not delivered' };
      this.engine.sendResult(node, this.name, caller, encodeMessage({ kind: 'rpc-result', result: { id: m.call.id, error } }));
    } catch {
      // not a call we can answer
    }
  }

  sendToReceiver(receiverId: number, frame: Uint8Array): void {
    const p = this.engine.proxy(receiverId);
    if (p === undefined) return this.sink.toReceiver(receiverId, frame);
    this.engine.sendResult(p.node, this.name, p.receiver, frame);
  }

  release(): void {
    if (this.released) return;
    void this.releaseLease();
    this.w.gen++;
    this.w.state = 'idle';
    this.released = true;
    this.engine.forget(this);
    const sub = this.engine.sub;
    if (this.subscribed) void this.subscribed.then(() => sub.sUnsubscribe(this.pubUpdates, this.onUpdate, true)).catch(() => {});
    if (this.inputSubscribed) sub.sUnsubscribe(this.pubInputs, this.onInput, true).catch(() => {});
  }
}
