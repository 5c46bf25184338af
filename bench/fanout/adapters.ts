/**
 * How the load generator speaks to each system under test: paths, handshakes, the ~100-byte
 * message, and how many logical messages a received WebSocket frame carries.
 */
import { FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import type { RawWsClient } from './raw-ws-client.js';

export const MESSAGE_BYTES = 100;

export interface Adapter {
  receiverPath: string;
  sourcePath: string;
  /** Completes an app-level handshake after the WebSocket opened. */
  handshake(c: RawWsClient, role: 'source' | 'receiver', frames: AsyncFrames): Promise<void>;
  /** Logical messages in a received data frame (0 for control/protocol chatter). */
  count(opcode: number, payload: Uint8Array): number;
  /** Answers app-level pings; returns true when the frame was one. */
  control(c: RawWsClient, opcode: number, payload: Uint8Array): boolean;
  /** Index of the newest message in a data frame (only probes call this). */
  lastIndex(opcode: number, payload: Uint8Array): number;
  /** Sends message `i` from the source. */
  send(c: RawWsClient, i: number): void;
}

/** Lets a handshake await the next frames of a client. */
export interface AsyncFrames {
  next(pred: (opcode: number, payload: Uint8Array) => boolean, timeoutMs?: number): Promise<Uint8Array>;
}

const pad = (s: string, bytes: number) => s + 'x'.repeat(Math.max(0, bytes - s.length));
const ascii = (p: Uint8Array, s: string) => {
  for (let i = 0; i < s.length; i++) if (p[i] !== s.charCodeAt(i)) return false;
  return true;
};
const plainBinary = (i: number) => {
  const b = Buffer.alloc(MESSAGE_BYTES, 0x78);
  b.writeUInt32LE(i, 0);
  return b;
};
const noControl = () => false;
/** Parses the decimal digits starting at `at`. */
const digitsAt = (p: Uint8Array, at: number) => {
  let v = 0;
  for (let i = at; i < p.length; i++) {
    const c = p[i]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
};
const noHandshake = async () => {};

/**
 * Sluice: the source publishes SignalDiff frames of 100 bytes (16-byte header + JSON). Receivers
 * connect as the SDK does, with `?batch=1`: the relay may pack a turn's frames into one Batch
 * message, which is counted frame by frame.
 */
const sluiceFrames = (p: Uint8Array): [count: number, lastStart: number] => {
  if (p[0] !== FrameType.Batch) return p[0] === FrameType.SignalDiff ? [1, 0] : [0, -1];
  let n = 0;
  let last = -1;
  for (let at = 16; at + 16 <= p.length; ) {
    const len = p[at + 12]! | (p[at + 13]! << 8) | (p[at + 14]! << 16) | (p[at + 15]! << 24);
    if (p[at] === FrameType.SignalDiff) {
      n++;
      last = at;
    }
    at += 16 + len;
  }
  return [n, last];
};
const sluice: Adapter = {
  receiverPath: '/stream/bench?batch=1',
  sourcePath: '/source/bench',
  handshake: noHandshake,
  count: (op, p) => (op === 2 ? sluiceFrames(p)[0] : 0),
  lastIndex: (_op, p) => digitsAt(p, sluiceFrames(p)[1] + 16 + 5), // {"n":<index>
  control: noControl,
  send: (c, i) => {
    // {"n":123,"p":"xxx…"} padded so that header + JSON = 100 bytes
    const json = pad(`{"n":${i},"p":"`, MESSAGE_BYTES - 16 - 2) + '"}';
    c.sendBinary(encodeFrame({ type: FrameType.SignalDiff, seq: i & 0xffff, timestamp: Date.now() >>> 0 }, Buffer.from(json)));
  },
};

const wsPlain: Adapter = {
  receiverPath: '/stream',
  sourcePath: '/source',
  handshake: noHandshake,
  count: (op, p) => (op === 2 && p.length >= MESSAGE_BYTES ? 1 : 0),
  lastIndex: (_op, p) => Buffer.from(p.buffer, p.byteOffset, p.length).readUInt32LE(p.length - MESSAGE_BYTES),
  control: noControl,
  send: (c, i) => c.sendBinary(plainBinary(i)),
};

/** uWS batched packs a tick's messages into one WebSocket message. */
const uwsBatched: Adapter = { ...wsPlain, count: (op, p) => (op === 2 ? Math.floor(p.length / MESSAGE_BYTES) : 0) };

const socketio: Adapter = {
  receiverPath: '/socket.io/?EIO=4&transport=websocket',
  sourcePath: '/socket.io/?EIO=4&transport=websocket&role=source',
  async handshake(c, _role, frames) {
    await frames.next((_op, p) => p[0] === 0x30); // "0{…}" open packet
    c.sendText('40');
    await frames.next((_op, p) => ascii(p, '40'));
  },
  count: (op, p) => (op === 1 && ascii(p, '42') ? 1 : 0),
  lastIndex: (_op, p) => digitsAt(p, 8), // 42["m","<index>
  control: (c, op, p) => {
    if (op === 1 && p.length === 1 && p[0] === 0x32) {
      c.sendText('3'); // engine.io ping → pong
      return true;
    }
    return false;
  },
  send: (c, i) => c.sendText(`42["p","${pad(String(i), MESSAGE_BYTES - 11)}"]`),
};

const MSG = Buffer.from('MSG ');
const nats: Adapter = {
  receiverPath: '/',
  sourcePath: '/',
  async handshake(c, role, frames) {
    await frames.next((_op, p) => ascii(p, 'INFO'));
    c.sendText(`CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n${role === 'receiver' ? 'SUB bench 1\r\n' : ''}PING\r\n`);
    await frames.next((_op, p) => Buffer.from(p).includes('PONG'));
  },
  count: (_op, p) => {
    let n = 0;
    for (let i = Buffer.from(p.buffer, p.byteOffset, p.length).indexOf(MSG); i >= 0; i = Buffer.from(p.buffer, p.byteOffset, p.length).indexOf(MSG, i + 4)) n++;
    return n;
  },
  lastIndex: (_op, p) => {
    // The payload of the last MSG: after the last "\r\n" that precedes it.
    const b = Buffer.from(p.buffer, p.byteOffset, p.length);
    const end = b.lastIndexOf('\r\n', b.length - 3);
    return digitsAt(p, end + 2);
  },
  control: (c, _op, p) => {
    if (ascii(p, 'PING')) {
      c.sendText('PONG\r\n');
      return true;
    }
    return false;
  },
  send: (c, i) => c.sendText(`PUB bench ${MESSAGE_BYTES}\r\n${pad(String(i), MESSAGE_BYTES)}\r\n`),
};

export const ADAPTERS: Record<string, Adapter> = {
  sluice,
  'sluice-uws': sluice,
  'ws-naive': wsPlain,
  'ws-batched': wsPlain,
  'uws-plain': wsPlain,
  'uws-batched': uwsBatched,
  socketio,
  nats,
};
