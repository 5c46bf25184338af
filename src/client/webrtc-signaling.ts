/**
 * The WebRTC signaling messages Sluice peers exchange over the relay's `/signal/{channel}` route,
 * and the small client that sends and receives them.
 *
 * The relay forwards every text message of a signaling peer to all other signaling peers of the
 * channel, unchanged and unauthenticated beyond the `signal` role. So every message names its
 * sender (`from`) and, except a broadcast `hello`, its addressee (`to`); a peer ignores whatever is
 * not addressed to it, is malformed, too big or of an unknown version/type. Nothing here trusts
 * `from`: the relay does not stamp it (see docs/webrtc.md, "Trust").
 *
 * ```
 * {"v":1,"from":"r-3f9a…","type":"hello","role":"receiver"}
 * {"v":1,"from":"s-81c2…","to":"r-3f9a…","type":"offer","role":"source","sdp":"v=0…"}
 * {"v":1,"from":"r-3f9a…","to":"s-81c2…","type":"answer","role":"receiver","sdp":"v=0…"}
 * {"v":1,"from":"s-81c2…","to":"r-3f9a…","type":"candidate","role":"source","candidate":{…}}
 * {"v":1,"from":"s-81c2…","to":"r-3f9a…","type":"bye","role":"source","reason":"full"}
 * ```
 */
import { Emitter } from './emitter.js';
import { resolveWebSocket } from './websocket.js';
import type { WebSocketCtor, WebSocketLike } from './websocket.js';

/** Longest signaling text a peer parses (an SDP offer with two data channels is ~1–3 KB). */
export const MAX_SIGNAL_TEXT = 32 * 1024;
/** Longest SDP accepted inside an offer/answer. */
export const MAX_SDP = 16 * 1024;
/** Longest ICE candidate line accepted. */
export const MAX_CANDIDATE = 1024;
/** Peer ids: 1–64 characters of `[A-Za-z0-9_-]`. */
const PEER_ID = /^[A-Za-z0-9_-]{1,64}$/;

export type SignalRole = 'source' | 'receiver';
export type SignalType = 'hello' | 'offer' | 'answer' | 'candidate' | 'bye';

interface SignalBase {
  v: 1;
  from: string;
  /** Addressee; absent only on a broadcast `hello`. */
  to?: string;
  role: SignalRole;
}
export type SignalMessage = SignalBase &
  (
    | { type: 'hello' }
    | { type: 'offer'; sdp: string }
    | { type: 'answer'; sdp: string }
    | { type: 'candidate'; candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null } }
    | { type: 'bye'; reason: string }
  );

/** A fresh random peer id: a role letter and 16 hex digits (not a secret, just unique). */
export function newPeerId(role: SignalRole): string {
  const bytes = new Uint8Array(8);
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return `${role === 'source' ? 's' : 'r'}-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates one signaling text. Returns `undefined` for anything that is not a
 * well-formed version-1 message: too long, not JSON, unknown type/role, bad ids, oversized SDP or
 * candidate. Never throws.
 */
export function parseSignal(text: unknown): SignalMessage | undefined {
  if (typeof text !== 'string' || text.length > MAX_SIGNAL_TEXT) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || raw.v !== 1) return undefined;
  const { from, to, role, type } = raw;
  if (typeof from !== 'string' || !PEER_ID.test(from)) return undefined;
  if (to !== undefined && (typeof to !== 'string' || !PEER_ID.test(to))) return undefined;
  if (role !== 'source' && role !== 'receiver') return undefined;
  const base: SignalBase = to === undefined ? { v: 1, from, role } : { v: 1, from, to, role };
  switch (type) {
    case 'hello':
      return { ...base, type };
    case 'offer':
    case 'answer': {
      const sdp = raw.sdp;
      if (to === undefined || typeof sdp !== 'string' || sdp.length === 0 || sdp.length > MAX_SDP) return undefined;
      return { ...base, type, sdp };
    }
    case 'candidate': {
      const c = raw.candidate;
      if (to === undefined || !isObject(c)) return undefined;
      const { candidate, sdpMid, sdpMLineIndex } = c;
      if (typeof candidate !== 'string' || candidate.length > MAX_CANDIDATE) return undefined;
      if (sdpMid !== null && sdpMid !== undefined && (typeof sdpMid !== 'string' || sdpMid.length > 64)) return undefined;
      if (sdpMLineIndex !== null && sdpMLineIndex !== undefined && (typeof sdpMLineIndex !== 'number' || !Number.isInteger(sdpMLineIndex) || sdpMLineIndex < 0 || sdpMLineIndex > 64)) return undefined;
      return { ...base, type, candidate: { candidate, sdpMid: (sdpMid as string | null | undefined) ?? null, sdpMLineIndex: (sdpMLineIndex as number | null | undefined) ?? null } };
    }
    case 'bye': {
      const reason = typeof raw.reason === 'string' ? raw.reason.slice(0, 200) : '';
      if (to === undefined) return undefined;
      return { ...base, type, reason };
    }
    default:
      return undefined;
  }
}

/** The `a=fingerprint:` value of an SDP (e.g. `sha-256 AB:CD:…`), upper-cased; undefined if none. */
export function sdpFingerprint(sdp: string): string | undefined {
  const m = /^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)\s*$/m.exec(sdp);
  return m ? `${m[1]!.toLowerCase()} ${m[2]!.toUpperCase()}` : undefined;
}

/**
 * `/stream/{ch}` or `/source/{ch}` URL → the channel's `/signal/{ch}` URL (query kept, so a
 * `?token=` travels along; `batch`/`select`/`resume` are receiver-only and dropped).
 *
 * @example signalUrlFor('ws://relay:8080/stream/game?token=t') // 'ws://relay:8080/signal/game?token=t'
 */
export function signalUrlFor(url: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/\/(stream|source|peer)(\/|$)/, '/signal$2');
  for (const k of ['batch', 'select', 'resume', 'producer', 'wait']) u.searchParams.delete(k);
  return u.toString();
}

export type SignalingEvents = {
  message: [m: SignalMessage];
  open: [];
  /** The signaling socket closed (code, reason); it is not reopened. */
  close: [code: number, reason: string];
};

/**
 * One `/signal/{channel}` WebSocket: sends {@link SignalMessage}s stamped with this peer's id and
 * role, and emits the valid ones addressed to this peer (or broadcast). Garbage is counted in
 * `ignored` and otherwise dropped.
 */
export class SignalingClient extends Emitter<SignalingEvents> {
  /** Messages dropped as malformed, oversized or addressed to someone else. */
  ignored = 0;
  private ws: WebSocketLike | undefined;
  private closed = false;
  private isOpen = false;

  constructor(
    readonly url: string,
    readonly id: string,
    readonly role: SignalRole,
    private readonly wsCtor?: WebSocketCtor,
  ) {
    super();
    void this.start();
  }

  get open(): boolean {
    return this.isOpen;
  }

  private async start(): Promise<void> {
    let Ctor: WebSocketCtor;
    try {
      Ctor = await resolveWebSocket(this.wsCtor);
    } catch {
      return this.finish(1006, 'no WebSocket implementation');
    }
    if (this.closed) return;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.url);
    } catch (e) {
      return this.finish(1006, e instanceof Error ? e.message : String(e));
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.closed) return;
      this.isOpen = true;
      this.emit('open');
    };
    ws.onmessage = (ev) => {
      if (this.closed) return;
      const m = parseSignal(ev.data);
      if (!m || m.from === this.id || (m.to !== undefined && m.to !== this.id)) {
        this.ignored++;
        return;
      }
      this.emit('message', m);
    };
    ws.onclose = (ev) => this.finish(ev.code, ev.reason);
    ws.onerror = () => {};
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.isOpen = false;
    this.emit('close', code, reason);
  }

  /** Sends one message (this peer's `from`/`role`/`v` are filled in); false when not open. */
  send(m: { to?: string | undefined } & ({ type: 'hello' } | { type: 'offer' | 'answer'; sdp: string } | { type: 'candidate'; candidate: unknown } | { type: 'bye'; reason: string })): boolean {
    if (!this.isOpen || !this.ws) return false;
    const { to, ...rest } = m;
    const msg = { v: 1, from: this.id, ...(to === undefined ? {} : { to }), role: this.role, ...rest };
    try {
      this.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    const ws = this.ws;
    this.finish(1000, 'closed');
    try {
      ws?.close(1000);
    } catch {
      // already closing
    }
  }
}
