/**
 * The console's push feed: a WebSocket at `/api/feed`. Once a second every client gets one
 * `tick` message (relay summary and channel rows); a client that watches a channel also gets
 * that channel's detail. Each message is serialized once per tick and shared by every client
 * that gets the same one (same filter, same watched channel).
 *
 * Slow clients: a tick is skipped for a client whose socket still holds more than
 * `maxBufferedBytes` (every tick is a full snapshot, so skipping loses nothing but freshness);
 * one that stays over it for `behindCloseMs` is cut off (it is not reading, so a 4413 close frame
 * queued behind its backlog would never reach it). A client's memory is thus bounded by
 * maxBufferedBytes plus one tick's messages.
 *
 * Client → relay (text JSON, at most 4 KiB, at most 20 per second):
 *   {"watch": "channel-name"}   also send that channel's detail every tick (null stops)
 *   {"q": "text"}               only rows whose name contains text (null or "" for all)
 */
import { CloseCode } from '../../protocol/close-codes.js';
import type { PeerConnection } from '../transport.js';

export const FEED_MAX_BUFFERED_BYTES = 1024 * 1024;
export const FEED_BEHIND_CLOSE_MS = 10_000;
const MAX_CLIENT_MESSAGE = 4096;
const MAX_CLIENT_MESSAGES_PER_SEC = 20;
const MAX_NAME = 256;

/**
 * What a tick provides: rows sorted by name, each serialized at most once per tick and only when
 * some client is sent it (so a filter only joins strings, and rows past every client's cap cost nothing).
 */
export interface FeedTick {
  t: number;
  relayJson: string;
  rows: Array<{ name: string; json(): string }>;
  total: number;
}

export interface FeedSource {
  /** The detail of one channel as JSON (null when unknown), computed at most once per tick. */
  detailJson(name: string): string | null;
  /** A cheap key that changes when the channel's detail would (state version, log offset, receivers…). */
  detailKey(name: string): string;
}

class FeedClient {
  watch: string | undefined;
  /** detailKey of the watched channel when its detail was last sent. */
  sentKey: string | undefined;
  q = '';
  behindSince: number | undefined;
  skipped = 0;
  private windowStart = 0;
  private windowCount = 0;
  constructor(readonly conn: PeerConnection) {}

  /** Counts a message from the client; false past the per-second limit. */
  admit(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    return ++this.windowCount <= MAX_CLIENT_MESSAGES_PER_SEC;
  }
}

export interface FeedOptions {
  maxClients: number;
  maxBufferedBytes: number;
  /** How long a client may stay over maxBufferedBytes before it is closed (4413). */
  behindCloseMs: number;
  /** Upper bound on rows per tick message (the table past it: `truncated`, use `q` or /api/channels). */
  maxRows: number;
}

export class FeedHub {
  private readonly clients = new Set<FeedClient>();
  private last: FeedTick | undefined;
  /** Tick messages by filter, for the current tick. */
  private messages = new Map<string, string>();
  private details = new Map<string, string | null>();
  /** Feed clients closed for being too slow, and ticks skipped for slow clients (totals). */
  closedTooSlow = 0;
  skippedTicks = 0;

  constructor(
    private readonly source: FeedSource,
    /** Mutable, so a test can shorten behindCloseMs. */
    readonly options: FeedOptions,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Whether one more client may connect. */
  hasRoom(): boolean {
    return this.clients.size < this.options.maxClients;
  }

  add(conn: PeerConnection): void {
    if (!this.hasRoom()) {
      conn.setHandlers({ message() {}, close() {}, drain() {}, pong() {} });
      conn.close(CloseCode.NoCapacity, `feed client limit (${this.options.maxClients}) reached`);
      return;
    }
    const client = new FeedClient(conn);
    this.clients.add(client);
    conn.setHandlers({
      message: (data, isBinary) => this.onMessage(client, data, isBinary),
      close: () => this.clients.delete(client),
      drain() {},
      pong() {},
    });
    // The newcomer does not wait a second for its first picture.
    if (this.last) this.sendTick(client);
  }

  private onMessage(client: FeedClient, data: Uint8Array, isBinary: boolean): void {
    if (!this.clients.has(client)) return;
    if (!client.admit(Date.now())) return this.drop(client, CloseCode.RateLimited, 'more than 20 feed messages in one second');
    if (isBinary || data.length > MAX_CLIENT_MESSAGE) return this.drop(client, CloseCode.BadFrame, 'feed messages are JSON text of at most 4 KiB');
    let m: unknown;
    try {
      m = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
    } catch {
      return this.drop(client, CloseCode.BadFrame, 'feed message is not JSON');
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return this.drop(client, CloseCode.BadFrame, 'feed message is not a JSON object');
    const o = m as Record<string, unknown>;
    if ('watch' in o) {
      const w = o.watch;
      if (w === null || w === '') client.watch = undefined;
      else if (typeof w === 'string' && w.length <= MAX_NAME) {
        client.watch = w;
        this.sendDetail(client, this.details);
      } else return this.drop(client, CloseCode.BadFrame, 'watch must be a channel name or null');
    }
    if ('q' in o) {
      const q = o.q;
      if (q === null || q === undefined) client.q = '';
      else if (typeof q === 'string' && q.length <= MAX_NAME) client.q = q;
      else return this.drop(client, CloseCode.BadFrame, 'q must be a string');
      if (this.last) this.sendTick(client);
    }
  }

  private drop(client: FeedClient, code: number, reason: string): void {
    this.clients.delete(client);
    client.conn.close(code, reason);
  }

  /** A new tick: every client gets it unless its socket is still full of older ones. */
  publish(tick: FeedTick): void {
    this.last = tick;
    this.messages = new Map();
    this.details = new Map();
    const now = tick.t;
    const bound = this.options.maxBufferedBytes;
    const closeAfter = this.options.behindCloseMs;
    for (const c of this.clients) {
      if (!c.conn.isOpen) continue;
      if (c.conn.bufferedAmount > bound) {
        c.behindSince ??= now;
        c.skipped++;
        this.skippedTicks++;
        if (now - c.behindSince >= closeAfter) {
          this.closedTooSlow++;
          this.clients.delete(c);
          c.conn.terminate();
        }
        continue;
      }
      c.behindSince = undefined;
      this.sendTick(c);
      this.sendDetail(c, this.details);
    }
  }

  /**
   * Between ticks (several times a second): a watched channel whose state, log, picture or
   * receivers changed is sent again at once, so the inspector follows the source closely.
   * Each changed channel's detail is computed once for all its watchers.
   */
  pushWatched(): void {
    let fresh: Map<string, string | null> | undefined;
    for (const c of this.clients) {
      const name = c.watch;
      if (name === undefined || !c.conn.isOpen || c.conn.bufferedAmount > this.options.maxBufferedBytes) continue;
      if (this.source.detailKey(name) === c.sentKey) continue;
      this.sendDetail(c, (fresh ??= new Map()));
    }
  }

  private sendTick(c: FeedClient): void {
    const tick = this.last!;
    let msg = this.messages.get(c.q);
    if (msg === undefined) {
      const q = c.q.toLowerCase();
      const rows = q === '' ? tick.rows : tick.rows.filter((r) => r.name.toLowerCase().includes(q));
      const shown = rows.slice(0, this.options.maxRows);
      msg = `{"type":"tick","t":${tick.t},"relay":${tick.relayJson},"total":${tick.total},"matched":${rows.length},"truncated":${rows.length > shown.length},"channels":[${shown.map((r) => r.json()).join(',')}]}`;
      this.messages.set(c.q, msg);
    }
    c.conn.sendText(msg);
  }

  private sendDetail(c: FeedClient, cache: Map<string, string | null>): void {
    const name = c.watch;
    if (name === undefined) return;
    c.sentKey = this.source.detailKey(name);
    let json = cache.get(name);
    if (json === undefined) {
      json = this.source.detailJson(name);
      cache.set(name, json);
    }
    c.conn.sendText(json === null ? `{"type":"channel","name":${JSON.stringify(name)},"channel":null}` : `{"type":"channel","name":${JSON.stringify(name)},"channel":${json}}`);
  }

  close(): void {
    for (const c of this.clients) c.conn.close(CloseCode.GoingAway, 'relay shutting down');
    this.clients.clear();
  }
}
