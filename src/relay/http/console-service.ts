/**
 * The operations console's server side: the page (`/console`), the JSON API (`/api/channels`,
 * `/api/channels/{name}`, `/api/channels/{name}/picture`, `/api/relay`) and the push feed
 * (`/api/feed`, see feed.ts). One sampler ticks once a second for all channels together; the
 * feed's JSON is built from that tick and shared by every feed client.
 *
 * Access: exactly like `/api/stats` — open without `--auth`, and under `--auth jwt` a token whose
 * payload has `"admin": true`, as `Authorization: Bearer …` or `?token=…` (401 without a valid
 * token, 403 with one that lacks the claim).
 */
import { readFileSync } from 'node:fs';
import { CloseCode } from '../../protocol/close-codes.js';
import { FrameType } from '../../protocol/frame-codes.js';
import { readHeader, HEADER_SIZE } from '../../protocol/header.js';
import { tokenFrom } from '../auth.js';
import type { AuthorizeAdmin } from '../auth.js';
import type { Channel } from '../channel.js';
import type { ChannelTable } from '../channel-table.js';
import type { RelayConfig } from '../config.js';
import type { ClusterNode, Engine } from '../engine.js';
import type { Peer } from '../peer.js';
import type { RelayTotals } from '../stats.js';
import type { HttpRequest, HttpResponse, PeerConnection } from '../transport.js';
import { channelDetail, channelRow } from './channel-views.js';
import { FeedHub } from './feed.js';
import { PngEncoder } from './png-encoder.js';
import { sniffImageType } from './png.js';
import { ChannelSampler } from './rates.js';

/** `/api/channels` pages hold at most this many channels (default 100). */
export const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
/** Rows per feed tick; past it the tick says `truncated` (filter with `q`, or page /api/channels). */
export const FEED_MAX_ROWS = 2000;
/** Longest channel name the API looks up (valid names are at most 128 characters). */
const MAX_NAME = 256;

/** The Content-Security-Policy of the console page: its own scripts, styles, images and feed only. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const ROOT = new URL('../../../', import.meta.url);

export interface ConsoleHost {
  readonly config: RelayConfig;
  readonly table: ChannelTable;
  readonly peers: ReadonlySet<Peer>;
  readonly totals: RelayTotals;
  readonly engine: Engine;
  readonly isDraining: boolean;
  readonly authorizeAdmin: AuthorizeAdmin;
}

type Json = (status: number, body: unknown) => void;

/** A channel's encoded picture, or the encode in flight for it (requests wait for that one). */
interface PictureEntry {
  version: number;
  at: number;
  done: boolean;
  /** Size of the encoded body once done (counted against PICTURE_CACHE_BYTES). */
  bytes: number;
  body: Promise<{ type: string; body: Uint8Array }>;
}

/** PNG encodes at once (each holds a copy of the pixels and the output), and how many may wait. */
const MAX_ENCODES = 2;
const MAX_ENCODES_WAITING = 16;
/** Encoded pictures kept: channels, and bytes (the newest is kept even when larger). */
const PICTURE_CACHE_ENTRIES = 64;
const PICTURE_CACHE_BYTES = 64 * 1024 * 1024;

/** Thrown for a request the API refuses with 400. */
class BadRequest extends Error {
  readonly code = 'console/bad-request';
}

export class ConsoleService {
  readonly sampler = new ChannelSampler();
  readonly feed: FeedHub;
  private readonly startedAt = Date.now();
  private nodes: ClusterNode[] | undefined;
  private nodesPending = false;
  private relayCache: { at: number; json: string } | undefined;
  /** Encoded pictures by channel, oldest first (see {@link picture}); at most PICTURE_CACHE_* of them. */
  private readonly pictures = new Map<Channel, PictureEntry>();
  private picturesBytes = 0;
  /** PNG encodes running, and the ones waiting for a slot. */
  private encodesRunning = 0;
  private readonly encodeQueue: Array<() => void> = [];
  private readonly png = new PngEncoder();
  /** Details by channel with the detailKey they were computed for; emptied every tick (rates change). */
  private detailCache = new Map<string, { key: string; json: string | null }>();
  /** Milliseconds the last tick took (sampling, rows, serialization), for /api/relay. */
  lastTickMs = 0;

  constructor(private readonly host: ConsoleHost) {
    this.feed = new FeedHub(
      {
        detailJson: (name) => this.detailJson(name),
        detailKey: (name) => this.detailKey(name),
      },
      { maxClients: host.config.consoleMaxFeeds, maxBufferedBytes: host.config.consoleFeedMaxBytes, behindCloseMs: 10_000, maxRows: FEED_MAX_ROWS },
    );
  }

  /** Shutdown: feed clients are closed with 1001 (see {@link terminateFeeds} for the deadline). */
  stop(): void {
    this.feed.close();
    this.png.close();
  }

  /** At the shutdown deadline: feed connections still closing are cut off. */
  terminateFeeds(): void {
    this.feed.terminate();
  }

  /** Feed connections closed at shutdown that have not finished closing. */
  get closingFeeds(): number {
    return this.feed.closingCount;
  }

  /** Closes (4401) feeds whose admin token has expired; the relay's sweep calls it. */
  sweep(now = Date.now()): void {
    this.feed.sweep(now);
  }

  /** A cheap key that changes when the channel's detail would (state version, log offset, receivers…). */
  private detailKey(name: string): string {
    const c = this.host.table.get(name);
    if (c === undefined) return '';
    const cache = c.cache;
    return `${cache.version}:${cache.log.next}:${c.pictureVersion}:${c.receivers.size}:${c.engineChannel.sourceOnline}`;
  }

  /** One tick (the relay calls it once a second): sample all channels; if anyone listens, serialize rows once and publish. */
  tick(now = Date.now()): void {
    const t0 = performance.now();
    this.sampler.sample(this.host.table.values(), now);
    this.detailCache = new Map();
    this.refreshNodes();
    if (this.feed.size > 0) {
      const rows: Array<{ name: string; json(): string }> = [];
      for (const c of this.host.table.values()) {
        let json: string | undefined;
        rows.push({ name: c.name, json: () => (json ??= JSON.stringify(channelRow(c, this.sampler))) });
      }
      rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      this.feed.publish({ t: now, relayJson: this.relayJson(now, true), rows, total: rows.length });
    }
    this.lastTickMs = performance.now() - t0;
  }

  private refreshNodes(): void {
    const engine = this.host.engine;
    if (engine.clusterNodes === undefined || this.nodesPending) return;
    this.nodesPending = true;
    engine.clusterNodes().then(
      (n) => {
        this.nodes = n;
        this.nodesPending = false;
      },
      () => {
        this.nodesPending = false;
      },
    );
  }

  /** The relay panel: uptime, connections by role, totals, close reasons, memory, cluster nodes. */
  relayInfo(now = Date.now()) {
    const h = this.host;
    const byRole = { source: 0, receiver: 0, signal: 0, other: 0 };
    for (const p of h.peers) {
      const role = p.role as string;
      if (role === 'source' || role === 'receiver' || role === 'signal') byRole[role]++;
      else byRole.other++;
    }
    const m = process.memoryUsage();
    return {
      server: 'sluice',
      engine: h.engine.name,
      node: h.engine.nodeId,
      epoch: h.engine.epoch,
      ready: h.engine.ready !== false && !h.isDraining,
      draining: h.isDraining,
      now,
      startedAt: this.startedAt,
      uptimeSeconds: Math.round(process.uptime()),
      connections: { total: h.peers.size, ...byRole, feeds: this.feed.size },
      channelCount: h.table.size,
      totals: h.totals,
      feed: { clients: this.feed.size, maxClients: h.config.consoleMaxFeeds, skippedTicks: this.feed.skippedTicks, heldBack: this.feed.coalesced, expired: this.feed.expired, closedTooSlow: this.feed.closedTooSlow, lastTickMs: Math.round(this.lastTickMs * 10) / 10 },
      memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers },
      cluster: this.nodes ?? null,
    };
  }

  private relayJson(now: number, fresh = false): string {
    if (fresh || this.relayCache === undefined || now - this.relayCache.at >= 1000) this.relayCache = { at: now, json: JSON.stringify(this.relayInfo(now)) };
    return this.relayCache.json;
  }

  /** Between ticks: watched channels that changed, and answers held back, are pushed (see FeedHub.pushWatched). */
  pushWatched(): void {
    if (this.feed.size === 0) return;
    this.feed.pushWatched();
  }

  /** A channel's detail as JSON, computed at most once per tick and change however many ask. */
  detailJson(name: string): string | null {
    const key = this.detailKey(name);
    let hit = this.detailCache.get(name);
    if (hit === undefined || hit.key !== key) {
      const c = this.host.table.get(name);
      hit = { key, json: c === undefined ? null : JSON.stringify(channelDetail(c, this.sampler)) };
      // Bounded: emptied every tick, and when many names were asked for within one.
      if (this.detailCache.size >= 256) this.detailCache.clear();
      this.detailCache.set(name, hit);
    }
    return hit.json;
  }

  // ---------------------------------------------------------------- HTTP

  /** Whether this module answers `path` (the caller then hands the request to handle()). */
  static owns(path: string): boolean {
    return path === '/console' || path === '/console/app.js' || path === '/console/style.css' || path === '/api/relay' || path === '/api/feed' || path === '/api/channels' || path.startsWith('/api/channels/');
  }

  async handle(req: HttpRequest, res: HttpResponse, url: URL): Promise<void> {
    // The path as sent (not url.pathname, which resolves dot segments): so a client that sends
    // /api/channels/%2E%2E as it is reaches the channel "..". Only table lookups use it.
    const path = (req.url ?? url.pathname).split('?')[0]!;
    const json: Json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (path === '/console/app.js' || path === '/console/style.css') return this.asset(res, path);
    const decision = await this.host.authorizeAdmin(tokenFrom(url.searchParams.get('token') ?? undefined, req.headers));
    if (path === '/console') return this.page(res, decision.ok ? undefined : decision.code === CloseCode.Unauthenticated ? 401 : 403);
    if (!decision.ok) return json(decision.code === CloseCode.Unauthenticated ? 401 : 403, { error: decision.reason });
    try {
      if (path === '/api/relay') return json(200, this.relayJson(Date.now()));
      if (path === '/api/feed') return json(426, { error: '/api/feed is a WebSocket: connect with ws:// (see docs/relay.md)' });
      if (path === '/api/channels') return json(200, this.list(url.searchParams));
      const rest = path.slice('/api/channels/'.length).split('/');
      if (rest.length > 2 || (rest.length === 2 && rest[1] !== 'picture')) return json(404, { error: 'not found' });
      const name = decodeName(rest[0]!);
      const c = this.host.table.get(name);
      if (c === undefined) return json(404, { error: 'no such channel on this relay node' });
      if (rest.length === 2) return this.picture(res, c, json);
      return json(200, this.detailJson(name)!);
    } catch (e) {
      if (e instanceof BadRequest) return json(400, { error: e.message });
      throw e;
    }
  }

  /** `GET /api/channels?offset=&limit=&prefix=&q=`: channels sorted by name, one bounded page. */
  private list(params: URLSearchParams) {
    const offset = intParam(params, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(params, 'limit', DEFAULT_PAGE, MAX_PAGE);
    const prefix = params.get('prefix') ?? '';
    const q = (params.get('q') ?? '').toLowerCase();
    if (prefix.length > MAX_NAME || q.length > MAX_NAME) throw new BadRequest('prefix and q are at most 256 characters');
    const names: string[] = [];
    for (const name of this.host.table.channels.keys()) if (name.startsWith(prefix) && (q === '' || name.toLowerCase().includes(q))) names.push(name);
    names.sort();
    const page = names.slice(offset, offset + limit);
    return {
      total: names.length,
      offset,
      limit,
      // limit=0 asks for the count only: no next page (it would not advance).
      next: page.length > 0 && offset + page.length < names.length ? offset + page.length : null,
      channels: page.map((n) => channelRow(this.host.table.get(n)!, this.sampler)),
    };
  }

  /**
   * The channel's current picture: raw pixels as PNG, encoded images as they are. Encoded at most
   * once per picture change and once a second (a 60 fps 4K source costs one PNG a second), off the
   * event loop (see png.ts); requests that come while it is encoded wait for that one encode. At
   * most {@link MAX_ENCODES} channels encode at once, {@link MAX_ENCODES_WAITING} more wait, past
   * that 503.
   */
  private async picture(res: HttpResponse, c: Channel, json: Json): Promise<void> {
    let p = this.pictures.get(c);
    const now = Date.now();
    if (p === undefined || (p.version !== c.pictureVersion && p.done && now - p.at >= 1000)) {
      const frame = c.cache.hasPicture ? c.cache.pictureFrame() : undefined;
      if (frame === undefined) return json(404, { error: 'the channel has no picture' });
      const h = readHeader(frame);
      const data = frame.subarray(HEADER_SIZE, HEADER_SIZE + h.length);
      let body: Promise<{ type: string; body: Uint8Array }>;
      if (h.type === FrameType.CompressedPixels) {
        const type = sniffImageType(data);
        if (type === undefined) return json(415, { error: 'the picture is in an encoding browsers cannot show' });
        body = Promise.resolve({ type, body: new Uint8Array(data) });
      } else {
        if (data.length < h.width * h.height * 4) return json(415, { error: 'the picture is not RGBA pixels' });
        if (this.encodesRunning >= MAX_ENCODES && this.encodeQueue.length >= MAX_ENCODES_WAITING) {
          res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '1' });
          res.end(JSON.stringify({ error: 'the relay is encoding other pictures; retry' }));
          return;
        }
        body = this.encodeSlot(() => this.png.encode(h.width, h.height, data)).then((png) => ({ type: 'image/png', body: png }));
      }
      const entry: PictureEntry = { version: c.pictureVersion, at: now, done: false, bytes: 0, body };
      p = entry;
      this.storePicture(c, entry);
      body.then(
        (r) => {
          entry.done = true;
          entry.bytes = r.body.length;
          if (this.pictures.get(c) === entry) this.picturesBytes += entry.bytes;
          this.trimPictures();
        },
        () => {
          entry.done = true;
          if (this.pictures.get(c) === entry) this.pictures.delete(c);
        },
      );
    }
    const r = await p.body;
    res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(r.body);
  }

  private storePicture(c: Channel, entry: PictureEntry): void {
    const old = this.pictures.get(c);
    if (old !== undefined) {
      this.picturesBytes -= old.bytes;
      this.pictures.delete(c);
    }
    // Re-inserted: the Map's order is least recently encoded first.
    this.pictures.set(c, entry);
    this.trimPictures();
  }

  /** Drops the oldest encoded pictures past the cache's bounds (never one still being encoded). */
  private trimPictures(): void {
    for (const [ch, e] of this.pictures) {
      if (this.pictures.size <= PICTURE_CACHE_ENTRIES && this.picturesBytes <= PICTURE_CACHE_BYTES) break;
      if (!e.done) continue;
      this.pictures.delete(ch);
      this.picturesBytes -= e.bytes;
    }
  }

  /** Runs `fn` when fewer than MAX_ENCODES encodes are running (bounding memory and thread-pool use). */
  private async encodeSlot<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing encode hands its slot to the next waiting one, so none can slip in between.
    if (this.encodesRunning >= MAX_ENCODES) await new Promise<void>((r) => this.encodeQueue.push(r));
    else this.encodesRunning++;
    try {
      return await fn();
    } finally {
      const next = this.encodeQueue.shift();
      if (next) next();
      else this.encodesRunning--;
    }
  }

  private readonly files = new Map<string, Buffer>();

  private readFile(name: string): Buffer | undefined {
    let body = this.files.get(name);
    if (body === undefined) {
      try {
        body = readFileSync(new URL(`web/console/${name}`, ROOT));
      } catch {
        return undefined;
      }
      this.files.set(name, body);
    }
    return body;
  }

  /** The console's script and style sheet (static code; no data, so no token needed). */
  private asset(res: HttpResponse, path: string): void {
    const name = path === '/console/app.js' ? 'app.js' : 'style.css';
    const body = this.readFile(name);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`web/console/${name} is missing\n`);
      return;
    }
    res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(body);
  }

  /** `/console`: the page, or (401/403) a small login form that reopens it with `?token=`. */
  private page(res: HttpResponse, refused: number | undefined): void {
    const headers = {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    if (refused !== undefined) {
      res.writeHead(refused, headers);
      res.end(loginPage(refused));
      return;
    }
    const body = this.readFile('index.html');
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('web/console/index.html is missing\n');
      return;
    }
    res.writeHead(200, headers);
    res.end(body);
  }

  /** Whether a feed connection may be opened now. */
  feedHasRoom(): boolean {
    return this.feed.hasRoom();
  }

  /** Adds an upgraded feed connection; `expiresAt` (ms since epoch) is when its admin token expires. */
  openFeed(conn: PeerConnection, expiresAt?: number): void {
    this.feed.add(conn, expiresAt);
  }
}

function intParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,16}$/.test(raw)) throw new BadRequest(`${name} must be a non-negative integer`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new BadRequest(`${name} must be a non-negative integer`);
  return Math.min(n, max);
}

function decodeName(segment: string): string {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw new BadRequest('channel name is not valid percent-encoding');
  }
  if (name.length === 0 || name.length > MAX_NAME) throw new BadRequest('channel name must be 1-256 characters');
  return name;
}

function loginPage(status: number): string {
  const why = status === 401 ? 'This relay requires a token with the admin claim.' : 'This token has no admin claim.';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice console — sign in</title><link rel="stylesheet" href="/console/style.css"></head>
<body class="login"><form method="get" action="/console" class="login-box">
<h1><span class="logo">◆</span> Sluice console</h1>
<p>${why}</p>
<label>Admin token (JWT with <code>"admin": true</code>)<input name="token" type="password" autocomplete="off" required autofocus></label>
<button type="submit">Open console</button>
</form></body></html>`;
}
