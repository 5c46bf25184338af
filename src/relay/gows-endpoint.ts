/**
 * The go-ws compatible endpoint at `/ws`: one JSON message per WebSocket text frame,
 * `{type, channel, processId, data, timestamp}`. Clients send `subscribe` / `unsubscribe`
 * (data = channel name) and `ping`; the relay sends `process_output` (data = one line),
 * `process_status` (data = {status, exitCode}), `event` (state syncs and diffs, app events),
 * `error` and `pong`. Any channel can be followed this way.
 *
 * Each subscription is an ordinary receiver of its channel behind a connection that translates
 * binary frames to JSON, so catch-up, history, resume and slow-receiver rules all apply.
 */
import type { Logger } from 'pino';
import { CloseCode } from '../protocol/close-codes.js';
import { isValidChannelName } from '../protocol/channel-name.js';
import { decodeMessage } from '../protocol/message.js';
import type { AuthDecision, AuthRequest } from './auth.js';
import type { Channel } from './channel.js';
import { Peer } from './peer.js';
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
  /** Channels one /ws connection may follow. */
  maxSubscriptions: number;
  /** The /ws connection closed. */
  released(peer: GoWsPeer): void;
}

interface GoWsMessage {
  type: string;
  channel?: string;
  processId?: string;
  data?: unknown;
  timestamp: string;
  [extra: string]: unknown;
}

const decoder = new TextDecoder();

function processIdOf(channel: string): string | undefined {
  return channel.startsWith('process:') ? channel.slice('process:'.length) : undefined;
}

/** Translates one binary Sluice frame into zero or more go-ws JSON messages. */
export function translateFrame(channel: string, bytes: Uint8Array): GoWsMessage[] {
  let m;
  try {
    m = decodeMessage(bytes, { maxPayload: Number.MAX_SAFE_INTEGER });
  } catch {
    return [];
  }
  const base = { channel, ...(processIdOf(channel) ? { processId: processIdOf(channel) } : {}) };
  const ts = (ms?: number) => new Date(ms ?? Date.now()).toISOString();
  switch (m.kind) {
    case 'log-record': {
      const text = decoder.decode(m.data);
      if (m.stream === 'status') {
        let s: { status?: string; exitCode?: number | null } = {};
        try {
          s = JSON.parse(text) as typeof s;
        } catch {
          /* a malformed status record is shown as-is below */
        }
        return [{ type: 'process_status', ...base, data: { status: s.status ?? text, exitCode: s.exitCode ?? 0 }, timestamp: ts(m.time), offset: m.offset }];
      }
      if (m.stream === 'event') {
        let data: unknown = text;
        try {
          data = JSON.parse(text);
        } catch {
          /* plain text event */
        }
        return [{ type: 'event', ...base, data, timestamp: ts(m.time), offset: m.offset }];
      }
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      return lines.map((line) => ({ type: 'process_output', ...base, data: line.endsWith('\r') ? line.slice(0, -1) : line, stream: m.stream, timestamp: ts(m.time), offset: m.offset }));
    }
    case 'signal-sync':
      return [{ type: 'event', ...base, data: m.state, sync: true, timestamp: ts() }];
    case 'signal-diff':
      return [{ type: 'event', ...base, data: m.diff, timestamp: ts() }];
    case 'error':
      return [{ type: 'error', ...base, data: m.error.message, code: m.error.code, timestamp: ts() }];
    case 'history-truncated':
      return [{ type: 'error', ...base, data: `history truncated: records before ${m.firstAvailable} were evicted (asked for ${m.requested})`, timestamp: ts() }];
    case 'source-status':
      return [{ type: 'event', ...base, data: { sourceOnline: m.status.online }, timestamp: ts() }];
    case 'stream-end':
      return [{ type: 'event', ...base, data: { streamEnd: m.reason }, timestamp: ts() }];
    default:
      return []; // welcome, pixels, audio…: nothing a JSON hub client can use
  }
}

/** The per-subscription connection: frames in, JSON text out on the shared socket. */
class TranslatingConnection implements PeerConnection {
  ended = false;
  readonly acceptsFramed = false;
  readonly concatenable = false;
  writeFramed(): void {
    throw new Error('a translating connection takes protocol frames only');
  }
  constructor(
    private readonly real: PeerConnection,
    private readonly channel: string,
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
  send(bytes: Uint8Array): void {
    for (const msg of translateFrame(this.channel, bytes)) this.real.sendText(JSON.stringify(msg));
  }
  sendText(text: string): void {
    this.real.sendText(text);
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

export class GoWsPeer extends Peer {
  readonly role = 'receiver' as const;
  private readonly subs = new Map<string, { channel: Channel; receiver: ReceiverPeer; conn: TranslatingConnection }>();

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
    conn.setHandlers({
      message: (data, isBinary) => {
        if (this.closed) return;
        if (!this.admitFrame(host.maxFramesPerSecond, Date.now())) return this.refuse(CloseCode.RateLimited, `more than ${10 * host.maxFramesPerSecond} messages in one second`);
        if (isBinary) return this.refuse(CloseCode.BadFrame, '/ws takes JSON text messages');
        void this.onText(decoder.decode(data));
      },
      close: () => {
        this.detachAll();
        host.released(this);
      },
      drain: () => {
        for (const s of this.subs.values()) s.channel.onReceiverDrain(s.receiver);
      },
      pong: () => (this.lastSeen = Date.now()),
    });
  }

  private reply(msg: Omit<GoWsMessage, 'timestamp'>): void {
    this.conn.sendText(JSON.stringify({ ...msg, timestamp: new Date().toISOString() }));
  }

  private refuse(code: number, message: string): void {
    this.reply({ type: 'error', data: message, code });
    this.close(code, message);
  }

  private async onText(text: string): Promise<void> {
    let msg: { type?: unknown; data?: unknown; channel?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return this.reply({ type: 'error', data: 'message is not JSON' });
    }
    if (typeof msg !== 'object' || msg === null) return this.reply({ type: 'error', data: 'message must be a JSON object' });
    const channel = typeof msg.data === 'string' ? msg.data : typeof msg.channel === 'string' ? msg.channel : undefined;
    switch (msg.type) {
      case 'ping':
        return this.reply({ type: 'pong' });
      case 'subscribe':
        if (channel === undefined || !isValidChannelName(channel)) return this.reply({ type: 'error', data: `invalid channel name ${JSON.stringify(channel ?? null)}` });
        return this.subscribe(channel);
      case 'unsubscribe':
        if (channel !== undefined) this.unsubscribe(channel);
        return;
      default:
        return this.reply({ type: 'error', data: `unknown message type ${JSON.stringify(msg.type ?? null)}` });
    }
  }

  private async subscribe(name: string): Promise<void> {
    if (this.subs.has(name)) return;
    const decision = await this.host.authorize({ channel: name, role: 'receiver', token: this.token, headers: this.headers, remoteAddress: this.conn.remoteAddress });
    if (this.closed || this.subs.has(name)) return;
    if (!decision.ok) return this.reply({ type: 'error', channel: name, data: decision.reason, code: decision.code });
    const channel = this.host.channelFor(name);
    if ('error' in channel) return this.reply({ type: 'error', channel: name, data: channel.error, code: channel.code });
    // The channel sends its Error frame (translated) before closing a subscription.
    const conn = new TranslatingConnection(this.conn, name, () => this.unsubscribe(name));
    const receiver = new ReceiverPeer(this.host.nextId(), conn, this.log, () => ({ channel: name }), this.host.peerContext, (f, b) => channel.countOut(f, b));
    this.subs.set(name, { channel, receiver, conn });
    channel.attachReceiver(receiver, null, undefined);
  }

  private unsubscribe(name: string): void {
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
