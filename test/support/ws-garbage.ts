/**
 * A raw WebSocket client on a bare TCP socket: the handshake is written by hand, and after it
 * anything can be sent — well-formed masked frames, frames that break RFC 6455 on purpose, or
 * arbitrary bytes — then the socket can be half-closed or destroyed. For hostile-input tests of
 * the relay's socket layer, which a conforming client library (ws) refuses to produce.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { CLOSE_CODES } from '../../src/protocol/close-codes.js';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { HEADER_SIZE, writeHeader } from '../../src/protocol/header.js';
import { decodeMessage, splitBatch } from '../../src/protocol/message.js';
import type { Message } from '../../src/protocol/message.js';
import { applyDiff } from '../../src/protocol/merge-patch.js';
import type { JsonObject } from '../../src/protocol/utf8.js';

export interface RawWsOptions {
  /** Request path and query (default `/`). */
  path?: string;
  origin?: string;
  /** Sent as the Authorization header, verbatim (e.g. `Bearer …`). */
  authorization?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Gives up on the handshake after this long (default 5 s). */
  timeoutMs?: number;
}

/** A frame the server sent, as parsed from the byte stream. */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3); default 0. */
  rsv?: number;
  /** Default true (clients must mask); false sends an unmasked client frame. */
  mask?: boolean;
  /** Writes this value in the length field instead of the payload's real length (may lie). */
  declaredLength?: bigint;
  /** Forces the 16- or 64-bit length encoding even when a shorter one would do. */
  lengthEncoding?: 7 | 16 | 64;
}

/** Close codes a client may legitimately see: the Sluice table plus the RFC 6455 ones a socket layer uses. */
export const DOCUMENTED_CLOSE_CODES: ReadonlySet<number> = new Set([...CLOSE_CODES.map((c) => c.code), 1000, 1002, 1005, 1006, 1007, 1009, 1011]);

export const Opcode = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

/** Builds one client frame (masked unless `mask: false`), per RFC 6455 §5.2 — or deliberately not. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : Buffer.from(spec.payload ?? new Uint8Array(0));
  const fin = spec.fin ?? true;
  const masked = spec.mask ?? true;
  const len = spec.declaredLength ?? BigInt(payload.length);
  const enc = spec.lengthEncoding ?? (len < 126n ? 7 : len < 0x10000n ? 16 : 64);
  const head: number[] = [(fin ? 0x80 : 0) | ((spec.rsv ?? 0) & 7) << 4 | (spec.opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  if (enc === 7) head.push(maskBit | Number(len & 0x7fn));
  else if (enc === 16) head.push(maskBit | 126, Number((len >> 8n) & 0xffn), Number(len & 0xffn));
  else {
    head.push(maskBit | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(8 * i)) & 0xffn));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A close frame payload: the code (u16 BE) and a reason. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code & 0xffff);
  return Buffer.concat([b, typeof reason === 'string' ? Buffer.from(reason) : Buffer.from(reason)]);
}

/** How a hostile connection ends after its garbage. */
export type Ending = 'wait' | 'half-close' | 'destroy';

/** A client WebSocket on a raw socket. */
export class RawWs {
  /** HTTP status of the handshake response (101 on success). */
  status = 0;
  responseHead = '';
  /** Frames the server sent after the handshake. */
  readonly frames: ServerFrame[] = [];
  /** The code of the server's close frame, when it sent one (1005 for an empty close). */
  closeCode: number | undefined;
  closeReason = '';
  /** True once the TCP connection is fully closed. */
  ended = false;
  /** Resolves when the TCP connection is closed (by either side). */
  readonly done: Promise<void>;
  private buf: Buffer = Buffer.alloc(0);

  private constructor(readonly socket: Socket) {
    this.done = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true;
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  /** Opens a TCP connection to `url` (ws://host:port[/path]) and performs the handshake by hand. */
  static async connect(url: string, options: RawWsOptions = {}): Promise<RawWs> {
    const u = new URL(url);
    const path = options.path ?? (u.pathname + u.search || '/');
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    socket.setNoDelay(true);
    const ws = new RawWs(socket);
    const key = randomBytes(16).toString('base64');
    const headers: Record<string, string> = {
      Host: u.host,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...(options.origin !== undefined ? { Origin: options.origin } : {}),
      ...(options.authorization !== undefined ? { Authorization: options.authorization } : {}),
      ...options.headers,
    };
    const request = `GET ${path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`handshake to ${url}${path} timed out`));
      }, options.timeoutMs ?? 5000);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        clearTimeout(timer);
        socket.off('data', onData);
        ws.responseHead = head.subarray(0, end).toString('latin1');
        ws.status = Number(/^HTTP\/1\.1 (\d+)/.exec(ws.responseHead)?.[1] ?? 0);
        const accept = /sec-websocket-accept:\s*(\S+)/i.exec(ws.responseHead)?.[1];
        const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (ws.status === 101 && accept !== expected) {
          socket.destroy();
          reject(new Error(`bad Sec-WebSocket-Accept ${accept}`));
          return;
        }
        socket.on('data', (c: Buffer) => ws.onData(c));
        const rest = head.subarray(end + 4);
        if (rest.length > 0) ws.onData(rest);
        resolve();
      };
      socket.on('data', onData);
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`connection closed during the handshake to ${path}: ${head.toString('latin1').slice(0, 200)}`));
      });
      socket.write(request);
    });
    return ws;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b[1]! & 0x80) at += 4; // servers must not mask; tolerate it anyway
      if (b.length < at + len) return;
      const frame: ServerFrame = { fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(at, at + len)) };
      this.frames.push(frame);
      if (frame.opcode === Opcode.Close && this.closeCode === undefined) {
        this.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        this.closeReason = frame.payload.subarray(2).toString();
      }
      this.buf = b.subarray(at + len);
    }
  }

  /** Binary messages the server sent (single-frame ones; the relay never fragments). */
  binaryMessages(): Buffer[] {
    return this.frames.filter((f) => f.opcode === Opcode.Binary).map((f) => f.payload);
  }

  /** Writes raw bytes (no framing). Ignored once the socket is gone. */
  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  sendFrame(spec: FrameSpec): void {
    this.write(buildFrame(spec));
  }

  /** Sends FIN (half-close); the server may still answer. */
  halfClose(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Ends the connection as `how`; 'wait' leaves it to the server. Resolves once closed or after `ms`. */
  async finish(how: Ending, ms = 3000): Promise<void> {
    if (how === 'half-close') this.halfClose();
    if (how === 'destroy') this.destroy();
    await Promise.race([this.done, new Promise((r) => setTimeout(r, ms))]);
    if (!this.ended) this.destroy();
  }
}

/** One crafted WebSocket-layer attack: the bytes to send after a successful handshake. */
export interface Garbage {
  name: string;
  bytes: (rand: () => number) => Buffer;
}

const bin = (payload: Uint8Array | string, extra: Partial<FrameSpec> = {}) => buildFrame({ opcode: Opcode.Binary, payload, ...extra });
const randomBuf = (rand: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => (rand() * 256) | 0));

/** The catalogue of WebSocket-layer garbage (RFC 6455 violations and edge cases). */
export const GARBAGE: readonly Garbage[] = [
  { name: 'text frame with invalid UTF-8 (c3 28)', bytes: () => buildFrame({ opcode: Opcode.Text, payload: Buffer.from([0xc3, 0x28]) }) },
  { name: 'text frame, valid UTF-8', bytes: () => buildFrame({ opcode: Opcode.Text, payload: 'garbage text' }) },
  {
    name: 'fragmented text, invalid UTF-8 across fragments',
    bytes: () =>
      Buffer.concat([buildFrame({ opcode: Opcode.Text, fin: false, payload: Buffer.from([0x61, 0xe2, 0x82]) }), buildFrame({ opcode: Opcode.Continuation, payload: Buffer.from([0x28]) })]),
  },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => ({ name: `reserved opcode 0x${op.toString(16)}`, bytes: () => buildFrame({ opcode: op, payload: 'x' }) })),
  ...[4, 2, 1, 7].map((rsv) => ({ name: `binary frame with RSV bits ${rsv.toString(2).padStart(3, '0')}`, bytes: () => bin(new Uint8Array(20), { rsv }) })),
  { name: 'unmasked client binary frame', bytes: () => bin(new Uint8Array(20), { mask: false }) },
  { name: 'unmasked client text frame', bytes: () => buildFrame({ opcode: Opcode.Text, payload: 'hi', mask: false }) },
  { name: 'length field 2^63', bytes: () => bin(new Uint8Array(8), { declaredLength: 1n << 63n, lengthEncoding: 64 }) },
  { name: 'length field 2^64-1', bytes: () => bin(new Uint8Array(8), { declaredLength: (1n << 64n) - 1n, lengthEncoding: 64 }) },
  { name: 'length field 2^53+1', bytes: () => bin(new Uint8Array(8), { declaredLength: (1n << 53n) + 1n, lengthEncoding: 64 }) },
  { name: 'length field 4 GiB', bytes: () => bin(new Uint8Array(8), { declaredLength: 1n << 32n, lengthEncoding: 64 }) },
  { name: 'length field larger than sent, then nothing', bytes: () => bin(new Uint8Array(10), { declaredLength: 5000n }) },
  { name: 'non-minimal 64-bit length', bytes: () => bin(new Uint8Array(16), { lengthEncoding: 64 }) },
  { name: 'fragmented ping (FIN=0 control frame)', bytes: () => buildFrame({ opcode: Opcode.Ping, fin: false, payload: 'p' }) },
  { name: 'fragmented close (FIN=0 control frame)', bytes: () => buildFrame({ opcode: Opcode.Close, fin: false, payload: closePayload(1000) }) },
  { name: 'ping with 126-byte payload', bytes: () => buildFrame({ opcode: Opcode.Ping, payload: new Uint8Array(126) }) },
  { name: 'close with 1-byte payload', bytes: () => buildFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03]) }) },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code) => ({
    name: `close with invalid code ${code}`,
    bytes: () => buildFrame({ opcode: Opcode.Close, payload: closePayload(code) }),
  })),
  { name: 'close with invalid UTF-8 reason', bytes: () => buildFrame({ opcode: Opcode.Close, payload: closePayload(1000, Buffer.from([0xc3, 0x28])) }) },
  { name: 'continuation with no message started', bytes: () => buildFrame({ opcode: Opcode.Continuation, payload: 'x' }) },
  {
    name: 'new data frame inside a fragmented message',
    bytes: () => Buffer.concat([bin(new Uint8Array(4), { fin: false }), bin(new Uint8Array(4))]),
  },
  { name: 'ping interleaved in a fragmented message, never finished', bytes: () => Buffer.concat([bin(new Uint8Array(4), { fin: false }), buildFrame({ opcode: Opcode.Ping, payload: 'p' })]) },
  { name: 'truncated header (1 byte)', bytes: () => Buffer.from([0x82]) },
  { name: 'truncated extended length', bytes: () => Buffer.from([0x82, 0xfe, 0x01]) },
  { name: 'truncated mask key', bytes: () => Buffer.from([0x82, 0x85, 0x01, 0x02]) },
  { name: 'HTTP request after the handshake', bytes: () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n') },
  { name: 'random bytes', bytes: (rand) => randomBuf(rand, 1 + ((rand() * 200) | 0)) },
  {
    name: 'many tiny fragments',
    bytes: () => Buffer.concat([bin(new Uint8Array(1), { fin: false }), ...Array.from({ length: 200 }, () => buildFrame({ opcode: Opcode.Continuation, fin: false, payload: new Uint8Array(1) }))]),
  },
];

/** Frames that violate nothing, to check the connection is still usable after an ending. */
export const goodClose = () => buildFrame({ opcode: Opcode.Close, payload: closePayload(1000) });

// ---------------------------------------------------------------- hostile Sluice payloads

/** One Sluice message: a 16-byte header of `type`/`flags` and `payload` as is (no validation). */
export function sluiceFrame(type: number, payload: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + payload.length);
  writeHeader(out, 0, { type, flags, seq: 0, timestamp: 0, width: 0, height: 0, length: payload.length });
  out.set(payload, HEADER_SIZE);
  return out;
}

/** `{"k":{"k":…1…}}`: a JSON object nested as deep as fits in `bytes` (or exactly `depth` deep). */
export function deepJson(bytes: number, options: { key?: string; depth?: number } = {}): Buffer {
  const open = `{"${options.key ?? 'a'}":`;
  const depth = options.depth ?? Math.max(1, Math.floor((bytes - 1) / (open.length + 1)));
  return Buffer.from(open.repeat(depth) + '1' + '}'.repeat(depth));
}

/** A flat, valid JSON object with as many small fields as fit in `bytes`: `{"k0":0,"k1":1,…}`. */
export function wideJson(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; ; i++) {
    const field = `"k${i}":${i}`;
    if (size + field.length + 1 > bytes) break;
    parts.push(field);
    size += field.length + 1;
  }
  return Buffer.from(`{${parts.join(',')}}`);
}

/** A JSON object of `bytes` bytes whose only flaw is an invalid UTF-8 sequence (c3 28) at the very end. */
export function invalidUtf8Json(bytes: number): Buffer {
  const b = Buffer.alloc(Math.max(bytes, 12), 0x78);
  b.write('{"a":"', 0, 'latin1');
  b[b.length - 4] = 0xc3;
  b[b.length - 3] = 0x28;
  b.write('"}', b.length - 2, 'latin1');
  return b;
}

/** State keys that must stay data (never reach a prototype). */
export const PROTO_STATE = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"prototype":{"x":3},"ok":1}';

// ---------------------------------------------------------------- fuzzing helpers

/**
 * A receiver that decodes every frame strictly (decodeMessage with default limits; Batches split
 * and each part decoded) and records anything it cannot decode as a bad frame the relay forwarded.
 * It reconnects when closed, recording the close code.
 */
export class StrictWatcher {
  readonly bad: string[] = [];
  readonly closeCodes: number[] = [];
  state: JsonObject = {};
  frames = 0;
  private ws: WebSocket | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    const ws = new WebSocket(this.url, { headers: this.headers, maxPayload: 64 * 1024 * 1024 });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code) => {
      this.closeCodes.push(code);
      if (!this.stopped) setTimeout(() => void this.start().catch(() => {}), 50);
    });
    await new Promise<void>((resolve) => {
      ws.once('open', () => resolve());
      ws.once('close', () => resolve());
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.frames++;
    if (!isBinary) {
      this.bad.push(`text message ${JSON.stringify(data.toString().slice(0, 60))}`);
      return;
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    let parts: Uint8Array[] = [bytes];
    try {
      if (bytes[0] === FrameType.Batch) parts = splitBatch(bytes.subarray(16));
      for (const part of parts) this.apply(decodeMessage(part));
    } catch (e) {
      this.bad.push(`${(e as Error).message}: ${Buffer.from(bytes.subarray(0, 24)).toString('hex')}…(${bytes.length} bytes)`);
    }
  }

  private apply(m: Message): void {
    if (m.kind === 'signal-sync') this.state = m.state;
    else if (m.kind === 'signal-diff') this.state = applyDiff(this.state, m.diff);
  }

  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

/** Mutates an encoded frame: byte flips, truncation, lying length, another type, random flags, or noise. */
export function mutate(buf: Uint8Array, rand: () => number): Uint8Array | string {
  const op = rand();
  const out = buf.slice();
  const view = new DataView(out.buffer);
  if (op < 0.2) return out; // valid, unmutated
  if (op < 0.4) {
    for (let k = 1 + ((rand() * 3) | 0); k > 0; k--) out[(rand() * out.length) | 0] = (rand() * 256) | 0;
    return out;
  }
  if (op < 0.5) return out.slice(0, (rand() * out.length) | 0);
  if (op < 0.6 && out.length >= 16) {
    view.setUint32(12, rand() < 0.5 ? (rand() * 0xffffffff) >>> 0 : Math.max(0, out.length - 16 + ((rand() * 9) | 0) - 4), true);
    return out;
  }
  if (op < 0.7 && out.length >= 16) {
    const types = Object.values(FrameType) as number[];
    out[0] = types[(rand() * types.length) | 0]!;
    return out;
  }
  if (op < 0.78 && out.length >= 16) {
    out[1] = (rand() * 256) | 0;
    return out;
  }
  if (op < 0.85) return Uint8Array.from({ length: (rand() * 40) | 0 }, () => (rand() * 256) | 0);
  if (op < 0.9) return 'garbage text';
  // Two frames glued together, or a frame with trailing bytes.
  return Uint8Array.from([...out, ...out.subarray(0, (rand() * out.length) | 0)]);
}

