/**
 * The console's push feed: a WebSocket at `/api/feed`. Once a second every client gets one
 * `tick` message (relay summary and channel rows); a client that watches a channel also gets
 * that channel's detail. Each message is serialized once per tick and shared by every client
 * that gets the same one (same filter, same watched channel).
 *
 * Every message to a client goes through one bound (see {@link FeedHub.flush}): while its socket
 * still holds more than `maxBufferedBytes`, nothing is written to it; what it is owed is kept as
 * one pending answer per kind (the latest tick for its filter, its watched channel's detail, one
 * error notice), each a full snapshot, so coalescing loses nothing but freshness. A client that
 * stays over the bound for `behindCloseMs` is cut off (it is not reading, so a 4413 close frame
 * queued behind its backlog would never reach it). A client's memory is thus bounded by
 * maxBufferedBytes plus one tick and one detail.
 *
 * CPU: a filter change is answered at once only if the client got no answer between ticks in
 * the last {@link EXTRA_TICK_GAP_MS}; otherwise it is coalesced into the next tick (or answered
 * when that second is over), so a client that changes its filter 20 times a second costs at most
 * two filtered ticks a second. Likewise a watch request is answered at once only if the client got
 * no detail in the last {@link EXTRA_DETAIL_GAP_MS}, otherwise at the next check.
 *
 * Client → relay (text JSON, at most 4 KiB, at most 20 per second):
 *   {"watch": "channel-name"}   also send that channel's detail every tick (null stops)
 *   {"q": "text"}               only rows whose name contains text (null or "" for all); a q
 *                               over 256 characters is answered with {"type":"error",…} and
 *                               leaves the filter as it was
 */
import { CloseCode } from '../../protocol/close-codes.js';
import type { PeerConnection } from '../transport.js';

export const FEED_MAX_BUFFERED_BYTES = 1024 * 1024;
export const FEED_BEHIND_CLOSE_MS = 10_000;
/** Longest filter (and watched name) the feed takes; the console clamps its input to it. */
export const FEED_MAX_QUERY = 256;
/** Least time between two ticks sent to one client outside the once-a-second ones (filter answers). */
export const EXTRA_TICK_GAP_MS = 1000;
/**
 * Least time between two details sent to one client outside the regular ticks: under the 200 ms
 * of the watched-channel check (so changes still go out on every check), it keeps a client that
 * sends 20 watch requests a second to about 6 fresh details a second.
 */
export const EXTRA_DETAIL_GAP_MS = 150;
const MAX_CLIENT_MESSAGE = 4096;
const MAX_CLIENT_MESSAGES_PER_SEC = 20;

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
  /** Owed, not yet written (the socket was over its bound, or a filter answer waits for its gap). */
  tickPending = false;
  detailPending = false;
  errorPending: string | undefined;
  /** When a tick was last written to this client outside the regular ones (a filter answer). */
  extraTickAt = -Infinity;
  /** When a detail was last written to this client outside the regular ticks. */
  extraDetailAt = -Infinity;
  private windowStart = 0;
  private windowCount = 0;
  constructor(
    readonly conn: PeerConnection,
    /** When the token this feed was opened with expires (ms since epoch); closed with 4401 then. */
    readonly expiresAt: number | undefined,
  ) {}

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
  /** Clients closed at shutdown whose close handshake has not finished (terminated at the deadline). */
  private readonly closing = new Set<PeerConnection>();
  private last: FeedTick | undefined;
  /** Tick messages by filter, for the current tick. */
  private messages = new Map<string, string>();
  /** Feed clients closed for being too slow, and ticks skipped for slow clients (totals). */
  closedTooSlow = 0;
  skippedTicks = 0;
  /** Times answers to a client were held back because its socket was over its bound (totals; /api/relay `feed.heldBack`). */
  coalesced = 0;
  /** Feed clients closed because their token expired (totals). */
  expired = 0;

  constructor(
    private readonly source: FeedSource,
    /** Mutable, so a test can shorten behindCloseMs. */
    readonly options: FeedOptions,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Feed connections closed at shutdown that have not finished closing. */
  get closingCount(): number {
    return this.closing.size;
  }

  /** Whether one more client may connect. */
  hasRoom(): boolean {
    return this.clients.size < this.options.maxClients;
  }

  /** Adds an upgraded feed connection; `expiresAt` (ms since epoch) is when its token expires. */
  add(conn: PeerConnection, expiresAt?: number): void {
    if (!this.hasRoom()) {
      conn.setHandlers({ message() {}, close() {}, drain() {}, pong() {} });
      conn.close(CloseCode.NoCapacity, `feed client limit (${this.options.maxClients}) reached`);
      return;
    }
    const client = new FeedClient(conn, expiresAt);
    this.clients.add(client);
    conn.setHandlers({
      message: (data, isBinary) => this.onMessage(client, data, isBinary),
      close: () => {
        this.clients.delete(client);
        this.closing.delete(conn);
      },
      // What was held back goes out as soon as the socket has room.
      drain: () => {
        if (this.clients.has(client)) this.flush(client, Date.now(), false);
      },
      pong() {},
    });
    // The newcomer does not wait a second for its first picture.
    if (this.last) {
      client.tickPending = true;
      this.flush(client, Date.now(), true);
    }
  }

  private onMessage(client: FeedClient, data: Uint8Array, isBinary: boolean): void {
    if (!this.clients.has(client)) return;
    const now = Date.now();
    if (!client.admit(now)) return this.drop(client, CloseCode.RateLimited, 'more than 20 feed messages in one second');
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
      if (w === null || w === '') {
        client.watch = undefined;
        client.detailPending = false;
      } else if (typeof w === 'string' && w.length <= FEED_MAX_QUERY) {
        client.watch = w;
        client.detailPending = true;
      } else return this.drop(client, CloseCode.BadFrame, 'watch must be a channel name or null');
    }
    if ('q' in o) {
      const q = o.q;
      if (q === null || q === undefined) client.q = '';
      else if (typeof q !== 'string') return this.drop(client, CloseCode.BadFrame, 'q must be a string');
      else if (q.length > FEED_MAX_QUERY) client.errorPending = `{"type":"error","field":"q","error":"the filter is at most ${FEED_MAX_QUERY} characters; it was not changed"}`;
      else client.q = q;
      if (this.last) client.tickPending = true;
    }
    this.flush(client, now, false);
  }

  private drop(client: FeedClient, code: number, reason: string): void {
    this.clients.delete(client);
    client.conn.close(code, reason);
  }

  /**
   * Writes what `c` is owed — unless its socket is over the bound: then everything stays pending
   * (one of each kind, always the latest) and a client over it for behindCloseMs is cut off.
   * `tickDue`: a regular tick, sent whatever the gap since the last one.
   */
  private flush(c: FeedClient, now: number, tickDue: boolean): void {
    if (!c.conn.isOpen) return;
    if (!c.tickPending && !c.detailPending && c.errorPending === undefined) return;
    if (c.conn.bufferedAmount > this.options.maxBufferedBytes) {
      this.coalesced++;
      c.behindSince ??= now;
      if (now - c.behindSince >= this.options.behindCloseMs) {
        this.closedTooSlow++;
        this.clients.delete(c);
        c.conn.terminate();
      }
      return;
    }
    c.behindSince = undefined;
    if (c.errorPending !== undefined) {
      c.conn.sendText(c.errorPending);
      c.errorPending = undefined;
    }
    if (c.tickPending && this.last && (tickDue || now - c.extraTickAt >= EXTRA_TICK_GAP_MS)) {
      c.tickPending = false;
      if (!tickDue) c.extraTickAt = now;
      this.sendTick(c);
    }
    if (c.detailPending && (tickDue || now - c.extraDetailAt >= EXTRA_DETAIL_GAP_MS)) {
      c.detailPending = false;
      if (!tickDue) c.extraDetailAt = now;
      this.sendDetail(c);
    }
  }

  /** A new tick: every client is owed it; those whose socket is still full of older ones skip it. */
  publish(tick: FeedTick): void {
    this.last = tick;
    this.messages = new Map();
    const now = tick.t;
    const bound = this.options.maxBufferedBytes;
    for (const c of this.clients) {
      if (!c.conn.isOpen) continue;
      if (c.conn.bufferedAmount > bound) {
        c.skipped++;
        this.skippedTicks++;
      }
      c.tickPending = true;
      if (c.watch !== undefined) c.detailPending = true;
      this.flush(c, now, true);
    }
  }

  /**
   * Between ticks (several times a second): a watched channel whose state, log, picture or
   * receivers changed is sent again at once, so the inspector follows the source closely; and
   * answers held back (a socket over its bound, a filter change within the tick gap) go out.
   * Each changed channel's detail is computed once for all its watchers.
   */
  pushWatched(now = Date.now()): void {
    for (const c of this.clients) {
      if (!c.conn.isOpen) continue;
      if (c.watch !== undefined && !c.detailPending && this.source.detailKey(c.watch) !== c.sentKey) c.detailPending = true;
      this.flush(c, now, false);
    }
  }

  /** Closes (4401) the feeds whose token has expired; the relay's sweep calls it. */
  sweep(now = Date.now()): void {
    for (const c of this.clients) {
      if (c.expiresAt === undefined || now < c.expiresAt) continue;
      this.expired++;
      this.drop(c, CloseCode.Unauthenticated, 'token expired');
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

  private sendDetail(c: FeedClient): void {
    const name = c.watch;
    if (name === undefined) return;
    c.sentKey = this.source.detailKey(name);
    const json = this.source.detailJson(name);
    c.conn.sendText(json === null ? `{"type":"channel","name":${JSON.stringify(name)},"channel":null}` : `{"type":"channel","name":${JSON.stringify(name)},"channel":${json}}`);
  }

  /** Shutdown: every client is closed with 1001; {@link terminate} cuts off those that do not answer. */
  close(): void {
    for (const c of this.clients) {
      this.closing.add(c.conn);
      c.conn.close(CloseCode.GoingAway, 'relay shutting down');
    }
    this.clients.clear();
  }

  /** At the shutdown deadline: drops the connections whose close handshake has not finished. */
  terminate(): void {
    for (const conn of this.closing) conn.terminate();
    this.closing.clear();
  }
}
