/**
 * The relay process: an HTTP server (health, readiness, stats, metrics) whose WebSocket upgrades
 * are routed by path to a channel and a role, after origin, authorization and limit checks.
 * Refusals complete the WebSocket handshake and then close with a documented code, because
 * browsers cannot see HTTP statuses of failed upgrades.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CloseCode, closeCodeInfo } from '../protocol/close-codes.js';
import { HEADER_SIZE } from '../protocol/header.js';
import { encodeMessage } from '../protocol/message.js';
import { allowAll, channelMatcher, createJwtAuthorize, originAllowed, tokenFrom } from './auth.js';
import type { Authorize } from './auth.js';
import { Channel } from './channel.js';
import type { ChannelContext } from './channel.js';
import { DEFAULT_CONFIG } from './config.js';
import type { RelayConfig } from './config.js';
import type { Engine } from './engine.js';
import { MemoryEngine } from './engines/memory-engine.js';
import { FlushScheduler } from './flush-scheduler.js';
import { GoWsPeer } from './gows-endpoint.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { SignalPeer, SourcePeer } from './peer.js';
import type { Peer } from './peer.js';
import { ReceiverPeer } from './receiver-peer.js';
import { parseRoute } from './route.js';
import type { Route } from './route.js';
import { RelayTotals } from './stats.js';
import type { PeerConnection, Transport } from './transport.js';
import { createWsTransport } from './ws-transport.js';
import { startUwsHost } from './uws-host.js';
import type { UwsHost } from './uws-host.js';

/** What an upgrade request becomes (see Relay.decideUpgrade). */
export type UpgradeDecision =
  | { kind: 'unavailable' }
  | { kind: 'refuse'; code: number; reason: string }
  | { kind: 'gows'; token: string | undefined; headers: IncomingHttpHeaders }
  | { kind: 'peer'; route: Route };

export interface RelayOptions extends Partial<Omit<RelayConfig, 'engine'>> {
  /** Decides every connection; defaults to `--auth` (none, or the built-in JWT check). */
  authorize?: Authorize;
  /** Where channels live; defaults to the in-memory engine. */
  engine?: Engine;
  logger?: Logger;
  /** A socket layer instance riding on node:http (overrides `transport`). */
  socketTransport?: Transport;
  /** Extra HTTP routes (the client bundle, web views); return true when handled. */
  httpRoutes?: Array<(req: IncomingMessage, res: ServerResponse) => boolean>;
}

export class Relay {
  readonly config: RelayConfig;
  readonly totals = new RelayTotals();
  readonly channels = new Map<string, Channel>();
  readonly peers = new Set<Peer>();
  readonly log: Logger;
  readonly metrics: Registry;
  private readonly server: Server | undefined;
  private uws: UwsHost | undefined;
  private readonly transport: Transport;
  private readonly scheduler = new FlushScheduler();
  private readonly ctx: ChannelContext;
  private authorize: Authorize;
  private nextId = 1;
  private draining = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  private readonly httpRoutes: Array<(req: IncomingMessage, res: ServerResponse) => boolean>;

  private constructor(options: RelayOptions, authorize: Authorize) {
    const { authorize: _a, engine, logger, socketTransport, httpRoutes, ...config } = options;
    this.config = { ...DEFAULT_CONFIG, ...stripUndefined(config), engine: engine?.name ?? 'memory' };
    this.log = logger ?? createLogger(this.config.logLevel);
    this.authorize = authorize;
    this.httpRoutes = httpRoutes ?? [];
    this.transport =
      socketTransport ?? (this.config.transport === 'uws' ? { frame: (p: Uint8Array) => p, close() {} } : createWsTransport({ maxPayload: this.config.maxPayload + HEADER_SIZE + 4 }));
    this.ctx = {
      config: this.config,
      totals: this.totals,
      scheduler: this.scheduler,
      engine: engine ?? new MemoryEngine({ logRetainRecords: this.config.logRetainRecords, logRetainBytes: this.config.logRetainBytes }),
      log: this.log,
      peer: { scheduler: this.scheduler, frame: this.transport.frame },
    };
    this.metrics = createMetrics(this.totals, () => this.channels.values(), () => this.peers.size);
    if (this.config.transport !== 'uws' || socketTransport) {
      this.server = createServer((req, res) => void this.handleHttp(req, res));
      this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
    }
  }

  /** Starts a relay and resolves once it accepts connections. */
  static async start(options: RelayOptions = {}): Promise<Relay> {
    const { engine: _e, ...rest } = options;
    const cfg = { ...DEFAULT_CONFIG, ...stripUndefined(rest) };
    const authorize =
      options.authorize ??
      (cfg.auth === 'jwt'
        ? await createJwtAuthorize({ secret: cfg.jwtSecret, publicKeyPem: cfg.jwtPublicKey, issuer: cfg.jwtIssuer, audience: cfg.jwtAudience })
        : allowAll);
    const relay = new Relay(options, authorize);
    const server = relay.server;
    if (server) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(relay.config.port, relay.config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } else {
      // uWS drops a connection over its limit without a close code; the relay refuses oversize frames
      // itself with 1009 first, so uWS gets a looser hard limit.
      relay.uws = await startUwsHost(relay, relay.config.host, relay.config.port, Math.max(2 * relay.config.maxPayload, relay.config.maxPayload + (1 << 20)) + HEADER_SIZE + 4);
    }
    relay.startTimers();
    relay.log.info({ port: relay.port, host: relay.config.host, engine: relay.ctx.engine.name, transport: relay.config.transport }, 'relay listening');
    return relay;
  }

  get port(): number {
    return this.server ? (this.server.address() as AddressInfo).port : this.uws!.port;
  }

  /** ws://host:port for clients on this machine. */
  get url(): string {
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? '127.0.0.1' : this.config.host;
    return `ws://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  // ---------------------------------------------------------------- HTTP

  /** Answers an HTTP request (node:http, or the uWS host's adapter). */
  async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
      if (path === '/healthz') return json(200, { status: 'ok' });
      if (path === '/readyz') return this.draining ? json(503, { status: 'draining' }) : json(200, { status: 'ready' });
      if (path === '/api/stats') {
        // ?gc=1 measures live memory (only when node runs with --expose-gc; for tests and benchmarks).
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc && (req.url ?? '').includes('gc=1')) gc();
        return json(200, this.stats());
      }
      if (path === '/metrics') {
        const body = await this.metrics.metrics();
        res.writeHead(200, { 'content-type': this.metrics.contentType });
        res.end(body);
        return;
      }
      for (const route of this.httpRoutes) if (route(req, res)) return;
      json(404, { error: 'not found' });
    } catch (e) {
      this.log.error({ err: e }, 'http handler failed');
      if (!res.headersSent) json(500, { error: 'internal error' });
      else res.end();
    }
  }

  stats() {
    const channels = [...this.channels.values()].map((c) => c.snapshotStats());
    return {
      server: 'sluice',
      engine: this.ctx.engine.name,
      draining: this.draining,
      uptimeSeconds: Math.round(process.uptime()),
      connections: this.peers.size,
      channelCount: this.channels.size,
      receivers: channels.reduce((n, c) => n + c.receivers, 0),
      totals: this.totals,
      memory: process.memoryUsage(),
      channels,
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
    const refuse = (code: number, reason: string): UpgradeDecision => ({ kind: 'refuse', code, reason });
    const origin = headers.origin;
    if (!originAllowed(this.config.allowedOrigins, origin)) return refuse(CloseCode.NotAllowed, `origin ${origin ?? ''} is not allowed`);
    if (url.split('?')[0] === '/ws') {
      return { kind: 'gows', token: tokenFrom(new URL(url, 'http://x').searchParams.get('token') ?? undefined, headers), headers };
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
    if (this.draining) return refuse(CloseCode.GoingAway, 'relay is shutting down');
    const channel = this.channels.get(route.channel);
    if (!channel && this.channels.size >= this.config.maxChannels) return refuse(CloseCode.NoCapacity, `channel limit (${this.config.maxChannels}) reached`);
    if (route.role === 'receiver' && channel && channel.receivers.size >= this.config.maxReceiversPerChannel) {
      channel.stats.connectionsRejected++;
      return refuse(CloseCode.NoCapacity, `receiver limit (${this.config.maxReceiversPerChannel}) reached for "${route.channel}"`);
    }
    if (route.role === 'source' && channel?.source && !this.takesOver(route.channel)) {
      channel.stats.connectionsRejected++;
      return refuse(CloseCode.SourceConflict, `channel "${route.channel}" already has a source`);
    }
    return { kind: 'peer', route };
  }

  /** Wires an upgraded connection according to the decision made for it. */
  openConnection(conn: PeerConnection, d: Exclude<UpgradeDecision, { kind: 'unavailable' }>): void {
    if (d.kind === 'refuse') {
      this.totals.connectionsRejected++;
      this.totals.countClose(closeCodeInfo(d.code).name);
      conn.send(encodeMessage({ kind: 'error', error: { code: d.code, name: closeCodeInfo(d.code).name, message: d.reason } }));
      conn.close(d.code, d.reason);
      return;
    }
    if (d.kind === 'gows') return this.openGoWs(conn, d.token, d.headers);
    let channel = this.channels.get(d.route.channel);
    if (!channel) {
      channel = new Channel(d.route.channel, this.ctx);
      this.channels.set(d.route.channel, channel);
      this.totals.channelsCreated++;
    }
    this.attach(conn, channel, d.route);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const d = await this.decideUpgrade(req.url ?? '/', req.headers, req.socket.remoteAddress ?? '');
    if (socket.destroyed) return;
    if (d.kind === 'unavailable') {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (d.kind === 'refuse') this.log.debug({ url: req.url, code: d.code, reason: d.reason }, 'connection refused');
    this.transport.upgrade!(req, socket, head, (conn) => this.openConnection(conn, d));
  }

  /** The channel's source policy: takeover when the relay's policy says so or the channel matches --takeover-channels. */
  private takesOver(channel: string): boolean {
    if (this.config.sourcePolicy === 'takeover') return true;
    this.takeoverMatcher ??= channelMatcher(this.config.takeoverChannels);
    return this.takeoverMatcher(channel);
  }
  private takeoverMatcher: ((channel: string) => boolean) | undefined;

  /** Finds or creates a channel for a go-ws subscription, applying the same limits as a receiver. */
  private channelForSubscription(name: string): Channel | { error: string; code: number } {
    let channel = this.channels.get(name);
    if (!channel) {
      if (this.channels.size >= this.config.maxChannels) return { error: `channel limit (${this.config.maxChannels}) reached`, code: CloseCode.NoCapacity };
      channel = new Channel(name, this.ctx);
      this.channels.set(name, channel);
      this.totals.channelsCreated++;
    }
    if (channel.receivers.size >= this.config.maxReceiversPerChannel) {
      channel.stats.connectionsRejected++;
      return { error: `receiver limit (${this.config.maxReceiversPerChannel}) reached for "${name}"`, code: CloseCode.NoCapacity };
    }
    return channel;
  }

  private openGoWs(conn: PeerConnection, token: string | undefined, headers: IncomingHttpHeaders): void {
    const id = this.nextId++;
    this.totals.connectionsTotal++;
    const peer = new GoWsPeer(
      id,
      conn,
      this.log,
      () => ({ conn: id, endpoint: '/ws', remote: conn.remoteAddress }),
      {
        channelFor: (name) => this.channelForSubscription(name),
        authorize: async (r) => {
          try {
            return await this.authorize(r);
          } catch {
            return { ok: false, code: CloseCode.Unauthenticated, reason: 'authorization failed' };
          }
        },
        nextId: () => this.nextId++,
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

  private attach(conn: PeerConnection, channel: Channel, route: Route): void {
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    const log = this.log;
    const bindings = () => ({ conn: id, channel: channel.name, role: route.role, remote: conn.remoteAddress });
    const onFlushed = (frames: number, bytes: number) => channel.countOut(frames, bytes);
    const limit = this.config.maxFramesPerSecond;
    this.totals.connectionsTotal++;
    // Every role: liveness, the inbound rate limit, and detach on close; then its own frames.
    const wire = (p: Peer, onMessage: (data: Uint8Array, isBinary: boolean) => void, drain: () => void = () => {}) =>
      conn.setHandlers({
        message: (data, isBinary) => {
          if (p.closed) return;
          if (!p.admitFrame(limit, Date.now())) return channel.refuse(p, CloseCode.RateLimited, `more than ${limit} frames per second`);
          onMessage(data, isBinary);
        },
        close: (code) => this.detach(p, channel, code),
        drain,
        pong: () => (p.lastSeen = Date.now()),
      });
    const textRefused = 'text messages are not part of the protocol on this path';
    let peer: Peer;
    if (route.role === 'source') {
      const old = channel.source;
      if (old) {
        // Takeover policy: the newcomer replaces the current source.
        channel.refuse(old, CloseCode.SourceConflict, 'taken over by a new source');
        channel.detachSource(old);
      }
      const p = new SourcePeer(id, conn, log, bindings, this.ctx.peer, onFlushed);
      peer = p;
      wire(p, (data, isBinary) => (isBinary ? channel.onSourceMessage(p, data) : channel.refuse(p, CloseCode.BadFrame, textRefused)));
      channel.attachSource(p);
    } else if (route.role === 'receiver') {
      const r = new ReceiverPeer(id, conn, log, bindings, this.ctx.peer, onFlushed);
      r.batching = route.batch;
      peer = r;
      wire(
        r,
        (data, isBinary) => (isBinary ? channel.onReceiverMessage(r, data) : channel.refuse(r, CloseCode.BadFrame, textRefused)),
        () => channel.onReceiverDrain(r),
      );
      channel.attachReceiver(r, route.select, route.resume);
    } else {
      const sp = new SignalPeer(id, conn, log, bindings, this.ctx.peer, onFlushed);
      peer = sp;
      wire(sp, (data, isBinary) =>
        isBinary ? channel.refuse(sp, CloseCode.BadFrame, 'signaling peers exchange text messages') : channel.onSignalMessage(sp, new TextDecoder().decode(data)),
      );
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
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, Math.max(10, ms));
      t.unref();
      this.timers.push(t);
    };
    every(this.config.heartbeatMs, () => this.heartbeat());
    every(this.config.gcIntervalMs, () => this.collectGarbage());
    every(250, () => {
      for (const c of this.channels.values()) c.sweepBehind();
    });
  }

  private heartbeat(): void {
    const now = Date.now();
    for (const p of this.peers) {
      if (now - p.lastSeen > this.config.idleTimeoutMs) {
        p.log.debug('idle timeout');
        this.totals.countClose('IdleTimeout');
        p.closed = true;
        p.conn.terminate();
      } else p.conn.ping();
    }
  }

  /** Removes channels with nobody connected whose grace period has run out. */
  collectGarbage(now = Date.now()): number {
    let n = 0;
    for (const [name, c] of this.channels) {
      if (c.collectable(now)) {
        c.release();
        this.channels.delete(name);
        n++;
      }
    }
    if (n > 0) {
      this.totals.channelsCollected += n;
      this.log.debug({ collected: n, remaining: this.channels.size }, 'channel gc');
    }
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
      for (const p of this.peers) p.close(CloseCode.GoingAway, 'relay shutting down');
      const deadline = Date.now() + deadlineMs;
      while (this.peers.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const p of this.peers) p.conn.terminate();
      const server = this.server;
      if (server) {
        const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        this.transport.close();
        await listenerClosed;
      } else this.uws?.close();
      await this.ctx.engine.close();
      this.log.info('relay stopped');
    })();
    return this.closing;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Starts a relay; shorthand for {@link Relay.start}. */
export function startRelay(options: RelayOptions = {}): Promise<Relay> {
  return Relay.start(options);
}
