/**
 * The go-ws compatible endpoint at `/ws`: one JSON message per WebSocket text frame,
 * `{type, channel, processId, data, timestamp}`. Clients send `subscribe` / `unsubscribe`
 * (data = channel name) and `ping`; the relay sends `process_output` (data = one line),
 * `process_status` (data = {status, exitCode}), `event` (state syncs and diffs, app events),
 * `error` and `pong`. Any channel can be followed this way.
 *
 * Each subscription is an ordinary receiver of its channel behind a connection that translates
 * binary frames to JSON, so catch-up, history, resume and slow-receiver rules all apply.
 *
 * Whatever a client or a source sends, the damage stays with one /ws connection:
 * - translation is total (bounded-depth JSON, timestamps only inside the Date range, lossy
 *   UTF-8), and a frame that still cannot be translated or sent is skipped and counted;
 * - client messages over {@link GOWS_MAX_MESSAGE_BYTES} or nested deeper than
 *   {@link GOWS_MAX_MESSAGE_DEPTH} are refused before parsing, with an error reply;
 * - one connection follows at most `maxSubscriptions` channels, pending authorizations included;
 * - text the socket has not written is bounded: past `maxBufferedBytes` the connection is closed
 *   with 4413 (TooSlow);
 * - any other failure while handling a message closes this connection with 1011, logged once.
 */
import type { Logger } from 'pino';
import { CloseCode } from '../protocol/close-codes.js';
import { isValidChannelName } from '../protocol/channel-name.js';
import { decodeMessage } from '../protocol/message.js';
import { MAX_JSON_DEPTH } from '../protocol/utf8.js';
import type { AuthDecision, AuthRequest } from './auth.js';
import type { Channel } from './channel.js';
import { HARD_RATE_FACTOR, Peer } from './peer.js';
import type { PeerContext } from './peer.js';
import { ReceiverPeer } from './receiver-peer.js';
import type { PeerConnection, PeerHandlers } from './transport.js';
import type { IncomingHttpHeaders } from 'node:http';

export interface GoWsHost {
  channelFor(name: string): Channel | { error: string; code: number };
  authorize(req: AuthRequest): Promise<AuthDecision>;
  nextId(): number;
  peerContext: PeerContext;
  maxFramesPerSecond: number;
  /** Channels one connection may follow, subscriptions waiting for authorization included; more get a 4509 error. */
  maxSubscriptions: number;
  /** Bytes the socket may hold unwritten before the connection is closed with 4413 (default {@link GOWS_DEFAULT_MAX_BUFFERED_BYTES}). */
  maxBufferedBytes?: number;
  /** The /ws connection closed. */
  released(peer: GoWsPeer): void;
}

/** Largest client message parsed; larger ones get an error reply. */
export const GOWS_MAX_MESSAGE_BYTES = 64 * 1024;
/** Deepest nesting of a client message; deeper ones get an error reply, unparsed. */
export const GOWS_MAX_MESSAGE_DEPTH = 64;
/** Default bound on unwritten text per /ws connection. */
export const GOWS_DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Client input quoted back in an error message or a close reason is cut to this many characters. */
const MAX_ECHO_CHARS = 64;
/** WebSocket close reasons are at most 123 UTF-8 bytes (RFC 6455 §5.5). */
const MAX_CLOSE_REASON_BYTES = 123;
/** The ECMAScript Date range: ±8.64e15 ms around the epoch. */
const MAX_DATE_MS = 8.64e15;

interface GoWsMessage {
  type: string;
  channel?: string;
  processId?: string;
  data?: unknown;
  timestamp: string | null;
  [extra: string]: unknown;
}

const decoder = new TextDecoder();

function processIdOf(channel: string): string | undefined {
  return channel.startsWith('process:') ? channel.slice('process:'.length) : undefined;
}

/**
 * True when JSON text nests `[`/`{` deeper than `limit` (strings skipped). Exact for valid JSON;
 * for invalid text the answer does not matter, JSON.parse refuses it anyway. One pass, no allocation.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const NOT_JSON = Symbol('not JSON');

/** JSON.parse with the protocol's depth bound: anything deeper, or invalid, is NOT_JSON. */
function parseBounded(text: string): unknown {
  if (jsonNestingExceeds(text, MAX_JSON_DEPTH)) return NOT_JSON;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** Cuts a close reason to 123 UTF-8 bytes without splitting a character. */
export function capCloseReason(reason: string): string {
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason;
  const bytes = Buffer.from(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

/** Client input quoted back in an error: JSON, at most MAX_ECHO_CHARS characters. */
function echo(value: unknown): string {
  const s = JSON.stringify(value ?? null) ?? 'null';
  return s.length <= MAX_ECHO_CHARS ? s : `${s.slice(0, MAX_ECHO_CHARS)}…`;
}

/** A log record's time as go-ws's RFC 3339 timestamp; outside the Date range, null plus the raw number. */
function recordTime(ms: number): { timestamp: string | null; time?: number } {
  return ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS ? { timestamp: new Date(ms).toISOString() } : { timestamp: null, time: ms };
}

const now = () => new Date().toISOString();

/** The translation itself; may throw on frames nobody foresaw. translateFrame is the total wrapper. */
function translate(channel: string, bytes: Uint8Array): GoWsMessage[] {
  let m;
  try {
    m = decodeMessage(bytes, { maxPayload: Number.MAX_SAFE_INTEGER, maxJsonPayload: Number.MAX_SAFE_INTEGER });
  } catch {
    return [];
  }
  const processId = processIdOf(channel);
  const base = processId !== undefined ? { channel, processId } : { channel };
  switch (m.kind) {
    case 'log-record': {
      const text = decoder.decode(m.data); // lossy: invalid UTF-8 becomes U+FFFD
      const time = recordTime(m.time);
      if (m.stream === 'status') {
        const parsed = parseBounded(text);
        const s = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as { status?: unknown; exitCode?: unknown }) : {};
        const status = typeof s.status === 'string' ? s.status : text; // a malformed status record is shown as-is
        const exitCode = typeof s.exitCode === 'number' && Number.isFinite(s.exitCode) ? s.exitCode : 0; // go-ws sends 0 while running
        return [{ type: 'process_status', ...base, data: { status, exitCode }, ...time, offset: m.offset }];
      }
      if (m.stream === 'event') {
        const parsed = parseBounded(text);
        return [{ type: 'event', ...base, data: parsed === NOT_JSON ? text : parsed, ...time, offset: m.offset }];
      }
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      return lines.map((line) => ({ type: 'process_output', ...base, data: line.endsWith('\r') ? line.slice(0, -1) : line, stream: m.stream, ...time, offset: m.offset }));
    }
    case 'signal-sync':
      return [{ type: 'event', ...base, data: m.state, sync: true, timestamp: now() }];
    case 'signal-diff':
      return [{ type: 'event', ...base, data: m.diff, timestamp: now() }];
    case 'error':
      return [{ type: 'error', ...base, data: m.error.message, code: m.error.code, timestamp: now() }];
    case 'history-truncated':
      return [{ type: 'error', ...base, data: `history truncated: records before ${m.firstAvailable} were evicted (asked for ${m.requested})`, timestamp: now() }];
    case 'source-status':
      return [{ type: 'event', ...base, data: { sourceOnline: m.status.online }, timestamp: now() }];
    case 'stream-end':
      return [{ type: 'event', ...base, data: { streamEnd: m.reason }, timestamp: now() }];
    default:
      return []; // welcome, pixels, audio…: nothing a JSON hub client can use
  }
}

/**
 * Translates one binary Sluice frame into zero or more go-ws JSON messages. Total: it never
 * throws, and every message it returns serializes with JSON.stringify.
 */
export function translateFrame(channel: string, bytes: Uint8Array): GoWsMessage[] {
  try {
    return translate(channel, bytes);
  } catch {
    return [];
  }
}

/** Where a translating connection's text goes. */
export interface TextSink {
  /** Sends one JSON text on the shared socket, within the connection's bound. */
  write(text: string): void;
  /** A frame for `channel` could not be translated or sent and was skipped. */
  skipped(channel: string, err: unknown): void;
}

/** The per-subscription connection: frames in, JSON text out on the shared socket. */
export class TranslatingConnection implements PeerConnection {
  ended = false;
  readonly acceptsFramed = false;
  readonly concatenable = false;
  writeFramed(): void {
    throw new Error('a translating connection takes protocol frames only');
  }
  constructor(
    private readonly real: PeerConnection,
    private readonly channel: string,
    private readonly sink: TextSink,
    private readonly onEnd: (code: number, reason: string) => void,
  ) {}
  get remoteAddress() {
    return this.real.remoteAddress;
  }
  get isOpen() {
    return this.real.isOpen && !this.ended;
  }
  get bufferedAmount() {
    return this.real.bufferedAmount;
  }
  /** Runs inside the flush scheduler: nothing may escape, one bad record costs only itself. */
  send(bytes: Uint8Array): void {
    try {
      for (const msg of translate(this.channel, bytes)) {
        if (this.ended) return;
        this.sink.write(JSON.stringify(msg));
      }
    } catch (err) {
      this.sink.skipped(this.channel, err);
    }
  }
  sendText(text: string): void {
    this.sink.write(text);
  }
  batch(fn: () => void): void {
    this.real.batch(fn);
  }
  close(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(code, reason);
  }
  terminate(): void {
    this.close(1006, 'terminated');
  }
  ping(): void {}
  pause(): void {}
  resume(): void {}
  setHandlers(_h: PeerHandlers): void {}
}

interface Subscription {
  channel: Channel;
  receiver: ReceiverPeer;
  conn: TranslatingConnection;
}

export class GoWsPeer extends Peer {
  readonly role = 'receiver' as const;
  private readonly subs = new Map<string, Subscription>();
  /** Subscriptions waiting for the authorizer; they count toward the cap. */
  private readonly pending = new Map<string, { cancelled: boolean }>();
  private readonly maxBuffered: number;
  /** Frames skipped because they could not be translated or sent. */
  skippedFrames = 0;
  private skipLogged = false;
  private failed = false;

  constructor(
    id: number,
    conn: PeerConnection,
    log: Logger,
    bindings: () => Record<string, unknown>,
    private readonly host: GoWsHost,
    private readonly token: string | undefined,
    private readonly headers: IncomingHttpHeaders,
  ) {
    super(id, conn, log, bindings, host.peerContext, () => {});
    this.maxBuffered = host.maxBufferedBytes ?? GOWS_DEFAULT_MAX_BUFFERED_BYTES;
    conn.setHandlers({
      message: (data, isBinary) => {
        try {
          this.onMessage(data, isBinary);
        } catch (err) {
          this.fail(err);
        }
      },
      close: () => {
        try {
          this.detachAll();
        } catch (err) {
          this.fail(err);
        }
        host.released(this);
      },
      drain: () => {
        try {
          for (const s of this.subs.values()) s.channel.onReceiverDrain(s.receiver);
        } catch (err) {
          this.fail(err);
        }
      },
      pong: () => (this.lastSeen = Date.now()),
    });
  }

  private onMessage(data: Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    const host = this.host;
    if (!this.admitFrame(host.maxFramesPerSecond, Date.now())) return this.refuse(CloseCode.RateLimited, `more than ${HARD_RATE_FACTOR * host.maxFramesPerSecond} messages in one second`);
    if (isBinary) return this.refuse(CloseCode.BadFrame, '/ws takes JSON text messages');
    if (data.length > GOWS_MAX_MESSAGE_BYTES) return this.reply({ type: 'error', data: `message larger than ${GOWS_MAX_MESSAGE_BYTES} bytes`, code: CloseCode.TooLarge });
    this.onText(decoder.decode(data)).catch((err: unknown) => this.fail(err));
  }

  /** Closes this connection after an unexpected failure; logged once. */
  private fail(err: unknown): void {
    if (!this.failed) {
      this.failed = true;
      try {
        this.log.error({ err }, '/ws connection failed; closing it');
      } catch {
        /* logging must not be the thing that escapes */
      }
    }
    try {
      this.close(1011, 'internal error');
    } catch {
      /* the socket is gone already */
    }
  }

  /** Sends text within the bound; a client that lets more pile up is closed as TooSlow. */
  private write(text: string): void {
    if (this.closed) return;
    if (this.conn.bufferedAmount > this.maxBuffered) return this.tooSlow(`over ${Math.ceil(this.maxBuffered / 1024)} KiB unread`);
    this.conn.sendText(text);
  }

  private tooSlow(detail: string): void {
    this.close(CloseCode.TooSlow, `too slow: ${detail}; reconnect and resubscribe`);
  }

  private readonly sink: TextSink = {
    write: (text) => this.write(text),
    skipped: (channel, err) => {
      this.skippedFrames++;
      if (this.skipLogged) return;
      this.skipLogged = true;
      try {
        this.log.warn({ channel, err }, 'a frame could not be translated for /ws and was skipped (logged once per connection)');
      } catch {
        /* this runs inside the flush scheduler: nothing may escape */
      }
    },
  };

  private reply(msg: Omit<GoWsMessage, 'timestamp'>): void {
    this.write(JSON.stringify({ ...msg, timestamp: now() }));
  }

  /** The token this connection subscribed with expired. */
  expire(): void {
    this.refuse(CloseCode.Unauthenticated, 'token expired');
  }

  private refuse(code: number, message: string): void {
    this.reply({ type: 'error', data: message, code });
    this.close(code, message);
  }

  override close(code: number, reason: string): void {
    if (this.closed) return;
    super.close(code, capCloseReason(reason));
    // Stop every subscription now; leave the channels once the current flush is done.
    for (const s of this.subs.values()) {
      s.conn.ended = true;
      s.receiver.closed = true;
    }
    queueMicrotask(() => {
      try {
        this.detachAll();
      } catch (err) {
        this.log.error({ err }, '/ws subscriptions could not be detached');
      }
    });
  }

  private async onText(text: string): Promise<void> {
    if (jsonNestingExceeds(text, GOWS_MAX_MESSAGE_DEPTH)) return this.reply({ type: 'error', data: `message nested deeper than ${GOWS_MAX_MESSAGE_DEPTH} levels`, code: CloseCode.BadFrame });
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.reply({ type: 'error', data: 'message is not JSON' });
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return this.reply({ type: 'error', data: 'message must be a JSON object' });
    const { type, data, channel: ch } = msg as { type?: unknown; data?: unknown; channel?: unknown };
    const channel = typeof data === 'string' ? data : typeof ch === 'string' ? ch : undefined;
    switch (type) {
      case 'ping':
        return this.reply({ type: 'pong' });
      case 'subscribe':
        if (channel === undefined || !isValidChannelName(channel)) return this.reply({ type: 'error', data: `invalid channel name ${echo(channel)}` });
        return this.subscribe(channel);
      case 'unsubscribe':
        if (channel !== undefined) this.unsubscribe(channel);
        return;
      default:
        return this.reply({ type: 'error', data: `unknown message type ${echo(type)}` });
    }
  }

  private async subscribe(name: string): Promise<void> {
    const waiting = this.pending.get(name);
    if (waiting) {
      waiting.cancelled = false; // subscribe, unsubscribe, subscribe while authorizing: subscribed
      return;
    }
    if (this.subs.has(name)) return;
    const max = this.host.maxSubscriptions;
    if (this.subs.size + this.pending.size >= max) {
      return this.reply({ type: 'error', channel: name, data: `subscription limit reached: one /ws connection may follow ${max} channels`, code: CloseCode.NoCapacity });
    }
    const ticket = { cancelled: false };
    this.pending.set(name, ticket);
    let decision: AuthDecision;
    try {
      decision = await this.host.authorize({ channel: name, role: 'receiver', token: this.token, headers: this.headers, remoteAddress: this.conn.remoteAddress });
    } finally {
      this.pending.delete(name);
    }
    if (this.closed || ticket.cancelled || this.subs.has(name)) return;
    if (!decision.ok) return this.reply({ type: 'error', channel: name, data: decision.reason, code: decision.code });
    // The connection lives as long as its token: the relay's sweep closes it with 4401 then.
    if (decision.expiresAt !== undefined) this.expiresAt = Math.min(this.expiresAt ?? Infinity, decision.expiresAt);
    const channel = this.host.channelFor(name);
    if ('error' in channel) return this.reply({ type: 'error', channel: name, data: channel.error, code: channel.code });
    // The channel sends its Error frame (translated) before closing a subscription. A log
    // subscription closed as TooSlow means this socket is behind: the whole connection goes.
    const conn = new TranslatingConnection(this.conn, name, this.sink, (code) => {
      if (code === CloseCode.TooSlow) this.tooSlow(`fell behind on ${name.slice(0, MAX_ECHO_CHARS)}`);
      else this.unsubscribe(name);
    });
    const receiver = new ReceiverPeer(this.host.nextId(), conn, this.log, () => ({ channel: name }), this.host.peerContext, (f, b) => channel.countOut(f, b));
    this.subs.set(name, { channel, receiver, conn });
    channel.attachReceiver(receiver, null, undefined);
  }

  private unsubscribe(name: string): void {
    const waiting = this.pending.get(name);
    if (waiting) waiting.cancelled = true;
    const s = this.subs.get(name);
    if (!s) return;
    this.subs.delete(name);
    s.receiver.closed = true;
    s.conn.ended = true;
    s.channel.detachReceiver(s.receiver);
  }

  private detachAll(): void {
    this.closed = true;
    for (const name of [...this.subs.keys()]) this.unsubscribe(name);
  }

  /** Channels this client follows. */
  get subscriptions(): string[] {
    return [...this.subs.keys()];
  }
}
