/**
 * The relay process: an HTTP host (health, readiness, stats, metrics, extra routes) whose
 * WebSocket upgrades are routed by path to a channel and a role, after origin, authorization and
 * limit checks. Refusals complete the WebSocket handshake and then close with a documented code,
 * because browsers cannot see HTTP statuses of failed upgrades.
 *
 * Isolation: nothing a peer sends, and nothing that goes wrong while serving one peer (decode,
 * translate, flush, close), ends the process or skips other peers' work. Each entry point from a
 * socket is contained here; a failure closes that peer with 1011, is logged and counted
 * (`totals.internalErrors`, `sluice_internal_errors_total`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CloseCode, closeCodeInfo } from '../protocol/close-codes.js';
import { HEADER_SIZE } from '../protocol/header.js';
import { encodeMessage } from '../protocol/message.js';
import { allowAll, createJwtAuth, originAllowed, tokenFrom } from './auth.js';
import type { Authorize, AuthorizeAdmin } from './auth.js';
import type { Channel, ChannelContext } from './channel.js';
import { ChannelTable } from './channel-table.js';
import { DEFAULT_CONFIG, validateConfig } from './config.js';
import type { RelayConfig } from './config.js';
import type { Engine } from './engine.js';
import { MemoryEngine } from './engines/memory-engine.js';
import { FlushScheduler } from './flush-scheduler.js';
import { GoWsPeer } from './gows-endpoint.js';
import type { RelayHost, UpgradeDecision } from './host.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { HARD_RATE_FACTOR, SignalPeer, SourcePeer } from './peer.js';
import type { Peer } from './peer.js';
import { ReceiverPeer } from './receiver-peer.js';
import { parseRoute } from './route.js';
import type { Route } from './route.js';
import { ConsoleService } from './http/console-service.js';
import { relayHttpRoutes } from './static-routes.js';
import { RelayTotals } from './stats.js';
import type { HttpRequest, HttpResponse, HttpRoute, PeerConnection } from './transport.js';
import { startWsHost } from './ws-transport.js';
import { startUwsHost } from './uws-host.js';

export type { UpgradeDecision } from './host.js';

/** `/api/stats` is computed at most this often; requests in between get the same answer. */
const STATS_CACHE_MS = 1000;
/** Channels listed by `/api/stats` (the totals cover all of them). */
const STATS_MAX_CHANNELS = 100;

export interface RelayOptions extends Partial<Omit<RelayConfig, 'engine'>> {
  /** Decides every connection; defaults to `--auth` (none, or the built-in JWT check). */
  authorize?: Authorize;
  /** Decides access to `/api/stats` and `/metrics`; defaults to `--auth` (open, or a JWT with `admin: true`). */
  authorizeAdmin?: AuthorizeAdmin;
  /** Where channels live; defaults to the in-memory engine. */
  engine?: Engine;
  logger?: Logger;
  /** Extra HTTP routes; return true when handled. The relay's own pages (`/sluice.js`, `/process/{id}`, web/) follow them. */
  httpRoutes?: HttpRoute[];
}

export class Relay {
  readonly config: RelayConfig;
  readonly totals = new RelayTotals();
  readonly table: ChannelTable;
  readonly peers = new Set<Peer>();
  readonly log: Logger;
  readonly metrics: Registry;
  private host: RelayHost | undefined;
  private readonly scheduler: FlushScheduler;
  private readonly ctx: ChannelContext;
  private nextId = 1;
  private draining = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  private readonly httpRoutes: HttpRoute[];
  private statsCache: { at: number; body: string } | undefined;
  /** The operations console: `/console`, `/api/channels…`, `/api/relay`, `/api/feed`. */
  readonly console: ConsoleService;

  private constructor(
    config: RelayConfig,
    options: RelayOptions,
    private readonly authorize: Authorize,
    private readonly authorizeAdmin: AuthorizeAdmin,
  ) {
    this.config = config;
    this.log = options.logger ?? createLogger(config.logLevel);
    this.httpRoutes = [...(options.httpRoutes ?? []), ...relayHttpRoutes()];
    this.scheduler = new FlushScheduler((e) => this.internalError(e, 'flush'));
    this.ctx = {
      config,
      totals: this.totals,
      scheduler: this.scheduler,
      engine: options.engine ?? new MemoryEngine({ logRetainRecords: config.logRetainRecords, logRetainBytes: config.logRetainBytes }),
      log: this.log,
      // Replaced by the host's framing once it is started (before any connection exists).
      peer: { scheduler: this.scheduler, frame: (p) => p },
    };
    this.table = new ChannelTable(this.ctx);
    // A shared engine (Redis) closes and acknowledges this node's sources itself.
    this.ctx.engine.bind?.({
      takesOver: (name) => this.table.takesOver(name),
      closeSource: (name, code, reason) => {
        const c = this.table.get(name);
        if (c?.source && !c.source.closed) c.refuse(c.source, code, reason);
      },
      ackSource: (name, seq) => this.table.get(name)?.source?.ack(seq),
      receiverCount: (name) => this.table.get(name)?.receivers.size ?? 0,
      nodeLoad: () => ({ connections: this.peers.size, channels: this.table.size }),
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const relay = this;
    this.console = new ConsoleService({
      config,
      table: this.table,
      peers: this.peers,
      totals: this.totals,
      engine: this.ctx.engine,
      get isDraining() {
        return relay.draining;
      },
      authorizeAdmin: (token) => this.authorizeAdmin(token),
    });
    this.metrics = createMetrics(this.totals, () => this.table.values(), () => this.peers.size, config);
  }

  /** The channels of this node, by name. */
  get channels(): ReadonlyMap<string, Channel> {
    return this.table.channels;
  }

  /**
   * Starts a relay and resolves once it accepts connections. Options are checked exactly like the
   * CLI's (a ConfigError names the bad one).
   */
  static async start(options: RelayOptions = {}): Promise<Relay> {
    const { authorize: customAuthorize, authorizeAdmin: customAdmin, engine, logger: _l, httpRoutes: _h, ...rest } = options;
    const config: RelayConfig = validateConfig({ ...DEFAULT_CONFIG, ...stripUndefined(rest), engine: engine?.name ?? 'memory' });
    let authorize: Authorize = allowAll;
    let admin: AuthorizeAdmin = () => ({ ok: true });
    if (config.auth === 'jwt') {
      const jwt = await createJwtAuth({ secret: config.jwtSecret, publicKeyPem: config.jwtPublicKey, issuer: config.jwtIssuer, audience: config.jwtAudience });
      authorize = jwt.authorize;
      admin = jwt.admin;
    }
    const relay = new Relay(config, options, customAuthorize ?? authorize, customAdmin ?? admin);
    const maxFrame = config.maxPayload + HEADER_SIZE + 4;
    relay.host =
      config.transport === 'uws'
        ? // uWS drops a connection over its limit without a close code; the relay refuses oversize
          // frames itself with 1009 first, so uWS gets a looser hard limit.
          await startUwsHost(relay, config.host, config.port, Math.max(2 * config.maxPayload, config.maxPayload + (1 << 20)) + HEADER_SIZE + 4)
        : await startWsHost(relay, config.host, config.port, maxFrame);
    relay.ctx.peer.frame = relay.host.frame;
    relay.startTimers();
    relay.log.info({ port: relay.port, host: config.host, engine: relay.ctx.engine.name, transport: config.transport }, 'relay listening');
    return relay;
  }

  get port(): number {
    return this.host!.port;
  }

  /** ws://host:port for clients on this machine. */
  get url(): string {
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? '127.0.0.1' : this.config.host;
    return `ws://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Contains a failure while serving one peer: logged, counted; the caller closes that peer. */
  internalError(error: unknown, where: string): void {
    this.totals.internalErrors++;
    this.log.error({ err: error, where }, 'internal error (contained)');
  }

  // ---------------------------------------------------------------- HTTP

  /** Answers an HTTP request (from either host). */
  async handleHttp(req: HttpRequest, res: HttpResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
      if (path === '/healthz') return json(200, { status: 'ok', engine: this.ctx.engine.name, epoch: this.ctx.engine.epoch, node: this.ctx.engine.nodeId });
      if (path === '/readyz') {
        if (this.draining) return json(503, { status: 'draining' });
        return this.ctx.engine.ready === false ? json(503, { status: 'engine unavailable', engine: this.ctx.engine.name }) : json(200, { status: 'ready' });
      }
      if (ConsoleService.owns(path!)) {
        let u: URL;
        try {
          u = new URL(url, 'http://relay.invalid');
        } catch {
          return json(400, { error: 'unparseable URL' });
        }
        return await this.console.handle(req, res, u);
      }
      if (path === '/api/stats' || path === '/metrics') {
        const token = tokenFrom(new URL(url, 'http://relay.invalid').searchParams.get('token') ?? undefined, req.headers);
        const decision = await this.authorizeAdmin(token);
        if (!decision.ok) return json(decision.code === CloseCode.Unauthenticated ? 401 : 403, { error: decision.reason });
        if (path === '/api/stats') return json(200, this.statsBody(url.includes('gc=1')));
        const body = await this.metrics.metrics();
        res.writeHead(200, { 'content-type': this.metrics.contentType });
        res.end(body);
        return;
      }
      for (const route of this.httpRoutes) if (route(req, res)) return;
      json(404, { error: 'not found' });
    } catch (e) {
      this.internalError(e, 'http');
      if (!res.headersSent) json(500, { error: 'internal error' });
      else res.end();
    }
  }

  /** The `/api/stats` body, computed at most once per second however often it is asked for. */
  private statsBody(gcFirst: boolean): string {
    // ?gc=1 measures live memory (only when node runs with --expose-gc; for tests and benchmarks).
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc && gcFirst) {
      gc();
      this.statsCache = undefined;
    }
    const now = Date.now();
    if (this.statsCache === undefined || now - this.statsCache.at >= STATS_CACHE_MS) this.statsCache = { at: now, body: JSON.stringify(this.stats()) };
    return this.statsCache.body;
  }

  stats() {
    const channels: Array<ReturnType<Channel['snapshotStats']> & { clusterReceivers?: number }> = [];
    let receivers = 0;
    for (const c of this.table.values()) {
      receivers += c.receivers.size;
      if (channels.length >= STATS_MAX_CHANNELS) continue;
      // With a shared engine: receivers of the channel on every node (as of the last heartbeat).
      const cluster = c.engineChannel.clusterReceivers;
      channels.push(cluster === undefined ? c.snapshotStats() : { ...c.snapshotStats(), clusterReceivers: cluster });
    }
    return {
      server: 'sluice',
      engine: this.ctx.engine.name,
      epoch: this.ctx.engine.epoch,
      node: this.ctx.engine.nodeId,
      draining: this.draining,
      uptimeSeconds: Math.round(process.uptime()),
      connections: this.peers.size,
      channelCount: this.table.size,
      receivers,
      totals: this.totals,
      memory: process.memoryUsage(),
      channels,
      channelsTruncated: this.table.size > channels.length,
    };
  }

  // ---------------------------------------------------------------- WebSocket

  /**
   * Decides what an upgrade request becomes, independently of the socket library: refused with a
   * close code (after the handshake, so browsers can read it), refused at the HTTP level while
   * draining, the go-ws endpoint, or a peer of a channel.
   */
  async decideUpgrade(url: string, headers: IncomingHttpHeaders, remoteAddress: string): Promise<UpgradeDecision> {
    if (this.draining) return { kind: 'unavailable' };
    const requestedAt = Date.now();
    const refuse = (code: number, reason: string): UpgradeDecision => ({ kind: 'refuse', code, reason });
    const origin = headers.origin;
    if (!originAllowed(this.config.allowedOrigins, origin)) return refuse(CloseCode.NotAllowed, `origin ${origin ?? ''} is not allowed`);
    if (url.split('?')[0] === '/api/feed') return this.decideFeed(url, headers);
    if (url.split('?')[0] === '/ws') {
      let token: string | undefined;
      try {
        token = tokenFrom(new URL(url, 'http://relay.invalid').searchParams.get('token') ?? undefined, headers);
      } catch {
        return refuse(CloseCode.BadFrame, 'unparseable URL');
      }
      return { kind: 'gows', token, headers, expiresAt: undefined };
    }
    const parsed = parseRoute(url);
    if (!parsed.ok) return refuse(parsed.status === 'not-found' ? CloseCode.NotFound : CloseCode.BadFrame, parsed.message);
    const route = parsed.route;
    let decision;
    try {
      decision = await this.authorize({ channel: route.channel, role: route.role, token: tokenFrom(route.token, headers), headers, remoteAddress });
    } catch (e) {
      this.log.warn({ err: e }, 'authorize hook threw');
      decision = { ok: false as const, code: CloseCode.Unauthenticated, reason: 'authorization failed' };
    }
    if (!decision.ok) return refuse(decision.code, decision.reason);
    if (decision.expiresAt !== undefined && decision.expiresAt <= Date.now()) return refuse(CloseCode.Unauthenticated, 'token expired');
    if (this.draining) return refuse(CloseCode.GoingAway, 'relay is shutting down');
    const verdict = this.table.check(route.channel, route.role, route.producer);
    if (!verdict.ok) return refuse(verdict.code, verdict.reason);
    return { kind: 'peer', route, expiresAt: decision.expiresAt, requestedAt };
  }

  /** The console's push feed: an admin token (under --auth jwt) and a free feed slot. */
  private async decideFeed(url: string, headers: IncomingHttpHeaders): Promise<UpgradeDecision> {
    let token: string | undefined;
    try {
      token = tokenFrom(new URL(url, 'http://relay.invalid').searchParams.get('token') ?? undefined, headers);
    } catch {
      return { kind: 'refuse', code: CloseCode.BadFrame, reason: 'unparseable URL' };
    }
    let decision;
    try {
      decision = await this.authorizeAdmin(token);
    } catch {
      decision = { ok: false as const, code: CloseCode.Unauthenticated, reason: 'authorization failed' };
    }
    if (!decision.ok) return { kind: 'refuse', code: decision.code, reason: decision.reason };
    if (decision.expiresAt !== undefined && decision.expiresAt <= Date.now()) return { kind: 'refuse', code: CloseCode.Unauthenticated, reason: 'token expired' };
    if (!this.console.feedHasRoom()) return { kind: 'refuse', code: CloseCode.NoCapacity, reason: `feed client limit (${this.config.consoleMaxFeeds}) reached` };
    return { kind: 'feed', expiresAt: decision.expiresAt };
  }

  /** Wires an upgraded connection according to the decision made for it. */
  openConnection(conn: PeerConnection, d: Exclude<UpgradeDecision, { kind: 'unavailable' }>): void {
    if (d.kind === 'refuse') return this.refuseConnection(conn, d.code, d.reason);
    if (d.kind === 'gows') return this.openGoWs(conn, d.token, d.headers);
    if (d.kind === 'feed') return this.console.openFeed(conn, d.expiresAt);
    // Limits are checked again: other connections may have been admitted since the decision.
    const admitted = this.table.admit(d.route.channel, d.route.role, d.route.producer);
    if (!admitted.ok) return this.refuseConnection(conn, admitted.code, admitted.reason);
    this.attach(conn, admitted.channel, d.route, admitted.created, d.expiresAt, d.requestedAt);
  }

  private refuseConnection(conn: PeerConnection, code: number, reason: string): void {
    this.totals.connectionsRejected++;
    this.totals.countClose(closeCodeInfo(code).name);
    // Whatever the refused peer sends until the close completes is ignored.
    conn.setHandlers({ message() {}, close() {}, drain() {}, pong() {} });
    conn.send(encodeMessage({ kind: 'error', error: { code, name: closeCodeInfo(code).name, message: reason } }));
    conn.close(code, reason);
  }

  private openGoWs(conn: PeerConnection, token: string | undefined, headers: IncomingHttpHeaders): void {
    const id = this.takeId();
    this.totals.connectionsTotal++;
    const peer = new GoWsPeer(
      id,
      conn,
      this.log,
      () => ({ conn: id, endpoint: '/ws', remote: conn.remoteAddress }),
      {
        channelFor: (name) => {
          const a = this.table.admit(name, 'receiver');
          return a.ok ? a.channel : { error: a.reason, code: a.code };
        },
        authorize: async (r) => {
          try {
            return await this.authorize(r);
          } catch {
            return { ok: false, code: CloseCode.Unauthenticated, reason: 'authorization failed' };
          }
        },
        nextId: () => this.takeId(),
        peerContext: this.ctx.peer,
        maxFramesPerSecond: this.config.maxFramesPerSecond,
        maxSubscriptions: this.config.maxWsSubscriptions,
        maxBufferedBytes: this.config.logReceiverMaxBytes,
        released: (p) => this.peers.delete(p),
      },
      token,
      headers,
    );
    this.peers.add(peer);
  }

  private takeId(): number {
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    return id;
  }

  private attach(conn: PeerConnection, channel: Channel, route: Route, created: boolean, expiresAt: number | undefined, requestedAt: number): void {
    const id = this.takeId();
    const log = this.log;
    const bindings = () => ({ conn: id, channel: channel.name, role: route.role, remote: conn.remoteAddress });
    const onFlushed = (frames: number, bytes: number) => channel.countOut(frames, bytes);
    const limit = this.config.maxFramesPerSecond;
    this.totals.connectionsTotal++;
    // Every role: liveness, inbound push-back, containment, detach on close; then its own frames.
    const wire = (p: Peer, onMessage: (data: Uint8Array, isBinary: boolean) => void, drain: () => void = () => {}, pong: () => void = () => {}) => {
      p.expiresAt = expiresAt;
      p.overflow = () => {
        if (p.closed || p.refused) return;
        if (p instanceof ReceiverPeer) channel.stats.tooSlowCloses++;
        channel.refuse(p, CloseCode.TooSlow, `more than ${p.queueLimit} bytes queued for a peer that is not reading`);
      };
      const contained = (where: string, fn: () => void) => {
        try {
          fn();
        } catch (e) {
          this.internalError(e, where);
          if (!p.closed) p.close(1011, 'internal error');
        }
      };
      conn.setHandlers({
        message: (data, isBinary) => {
          if (p.closed) return;
          if (!p.admitFrame(limit, Date.now())) return channel.refuse(p, CloseCode.RateLimited, `more than ${HARD_RATE_FACTOR * limit} frames in one second`);
          contained('message', () => onMessage(data, isBinary));
        },
        close: (code) => contained('close', () => this.detach(p, channel, code)),
        drain: () => contained('drain', drain),
        pong: () => {
          p.lastSeen = Date.now();
          contained('pong', pong);
        },
      });
    };
    const textRefused = 'text messages are not part of the protocol on this path';
    let peer: Peer;
    if (route.role === 'source') {
      const old = channel.source;
      if (old) {
        // Takeover policy (or the same producer reconnecting): the newcomer replaces the current source.
        channel.refuse(old, CloseCode.SourceConflict, old.producer !== undefined && old.producer === route.producer ? 'replaced by a newer connection of the same producer' : 'taken over by a new source');
        channel.detachSource(old);
      }
      const p = new SourcePeer(id, conn, log, bindings, this.ctx.peer, onFlushed);
      p.producer = route.producer;
      p.requestedAt = requestedAt;
      p.queueLimit = this.config.sourceInputMaxBytes + this.config.logReceiverMaxBytes;
      peer = p;
      wire(p, (data, isBinary) => (isBinary ? channel.onSourceMessage(p, data) : channel.refuse(p, CloseCode.BadFrame, textRefused)));
      channel.attachSource(p);
    } else if (route.role === 'receiver') {
      const r = new ReceiverPeer(id, conn, log, bindings, this.ctx.peer, onFlushed);
      r.batching = route.batch;
      r.createdChannel = created;
      r.queueLimit = this.config.logReceiverMaxBytes;
      peer = r;
      wire(
        r,
        (data, isBinary) => (isBinary ? channel.onReceiverMessage(r, data) : channel.refuse(r, CloseCode.BadFrame, textRefused)),
        () => channel.onReceiverDrain(r),
        () => channel.onReceiverPong(r),
      );
      channel.attachReceiver(r, route.select, route.resume, true);
    } else {
      const sp = new SignalPeer(id, conn, log, bindings, this.ctx.peer, onFlushed);
      sp.queueLimit = this.config.signalMaxBytes;
      peer = sp;
      const decoder = new TextDecoder('utf-8', { fatal: true });
      wire(sp, (data, isBinary) => {
        if (isBinary) return channel.refuse(sp, CloseCode.BadFrame, 'signaling peers exchange text messages');
        let text: string;
        try {
          text = decoder.decode(data);
        } catch {
          return channel.refuse(sp, CloseCode.BadFrame, 'signaling text is not valid UTF-8');
        }
        channel.onSignalMessage(sp, text);
      });
      channel.attachSignal(sp);
    }
    this.peers.add(peer);
    if (log.isLevelEnabled('debug')) peer.log.debug('connected');
  }

  private detach(peer: Peer, channel: Channel, code: number): void {
    peer.closed = true;
    this.peers.delete(peer);
    if (code === CloseCode.TooLarge) this.totals.countClose('TooLarge');
    if (peer instanceof SourcePeer) channel.detachSource(peer);
    else if (peer instanceof ReceiverPeer) channel.detachReceiver(peer);
    else if (peer instanceof SignalPeer) channel.detachSignal(peer);
    if (this.log.isLevelEnabled('debug')) peer.log.debug({ code }, 'disconnected');
  }

  // ---------------------------------------------------------------- housekeeping

  private startTimers(): void {
    const every = (ms: number, where: string, fn: () => void) => {
      const t = setInterval(() => {
        try {
          fn();
        } catch (e) {
          this.internalError(e, where);
        }
      }, Math.max(10, ms));
      t.unref();
      this.timers.push(t);
    };
    every(this.config.heartbeatMs, 'heartbeat', () => {
      for (const p of this.peers) p.conn.ping();
    });
    every(this.config.gcIntervalMs, 'gc', () => this.collectGarbage());
    every(SWEEP_MS, 'sweep', () => this.sweep());
    every(1000, 'console', () => this.console.tick());
    every(WATCH_PUSH_MS, 'console-watch', () => this.console.pushWatched());
  }

  /**
   * Every quarter second: drops peers silent for longer than the idle timeout (so a half-open
   * peer goes within idleTimeout + 0.25 s), closes peers whose token expired (4401), makes late
   * handshakes live and catches drains the transport did not report.
   */
  private sweep(): void {
    const now = Date.now();
    const idle = this.config.idleTimeoutMs;
    for (const p of this.peers) {
      if (p.closed) continue;
      if (now - p.lastSeen > idle) {
        p.log.debug('idle timeout');
        this.totals.countClose('IdleTimeout');
        p.closed = true;
        p.conn.terminate();
      } else if (p.expiresAt !== undefined && now >= p.expiresAt) {
        this.totals.countClose('Unauthenticated');
        if (p instanceof GoWsPeer) {
          p.expire();
          continue;
        }
        p.enqueue(encodeMessage({ kind: 'error', error: { code: CloseCode.Unauthenticated, name: 'Unauthenticated', message: 'token expired' } }));
        p.close(CloseCode.Unauthenticated, 'token expired');
      }
    }
    for (const c of this.table.values()) c.sweep(now);
    // Console feeds opened with an admin token are closed (4401) when it expires, like peers.
    this.console.sweep(now);
  }

  /** Removes channels with nobody connected whose grace period (or log retention) has run out. */
  collectGarbage(now = Date.now()): number {
    const n = this.table.collect(now);
    if (n > 0) this.log.debug({ collected: n, remaining: this.table.size }, 'channel gc');
    return n;
  }

  /**
   * Graceful shutdown: readiness goes 503 and WebSocket upgrades are refused (HTTP health checks
   * still answer), every peer is closed with 1001, and once all are gone — or the deadline
   * passes — the listener closes and the promise resolves.
   */
  close(deadlineMs = this.config.shutdownTimeoutMs): Promise<void> {
    this.closing ??= (async () => {
      this.draining = true;
      for (const t of this.timers) clearInterval(t);
      this.console.stop();
      for (const p of this.peers) p.close(CloseCode.GoingAway, 'relay shutting down');
      const deadline = Date.now() + deadlineMs;
      while ((this.peers.size > 0 || this.console.closingFeeds > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const p of this.peers) p.conn.terminate();
      // Feed clients are not peers: one that does not answer its close would hold the listener.
      this.console.terminateFeeds();
      await this.host?.close();
      await this.ctx.engine.close();
      this.log.info('relay stopped');
    })();
    return this.closing;
  }
}

const SWEEP_MS = 250;
/** How often the console's watched channels are checked for changes between feed ticks. */
const WATCH_PUSH_MS = 200;

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Starts a relay; shorthand for {@link Relay.start}. */
export function startRelay(options: RelayOptions = {}): Promise<Relay> {
  return Relay.start(options);
}
