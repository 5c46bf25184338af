/**
 * How the load generator speaks to each system under test: paths, the app-level handshakes and
 * ping replies, and the ~100-byte message — all as arguments for `native/load-generator.c`.
 * Every message carries a stamp `#S<index>T<µs>#` that the receivers count and time, wherever in
 * the payload each system puts it: the message is PREFIX + stamp padded to BODY bytes + SUFFIX.
 */
import { FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';

export const MESSAGE_BYTES = 100;

export interface Adapter {
  receiverPath: string;
  sourcePath: string;
  /** Handshake steps and ping replies (see the usage in `native/load-generator.c`). */
  args: string[];
  message: { opcode: 1 | 2; prefix: Uint8Array; body: number; suffix: Uint8Array };
}

const text = (s: string) => Buffer.from(s);
const none = new Uint8Array(0);

/** The generator's `--msg` arguments for an adapter. */
export function messageArgs(a: Adapter): string[] {
  const m = a.message;
  return ['--msg', String(m.opcode), Buffer.from(m.prefix).toString('hex') || '-', String(m.body), Buffer.from(m.suffix).toString('hex') || '-'];
}

/**
 * Sluice: the source publishes SignalDiff frames of 100 bytes (16-byte header + the JSON
 * {"p":"#S…#xxx…"}). Receivers connect as the SDK does, with `?batch=1`: the relay may pack a
 * turn's frames into one Batch message; each frame inside carries its own stamp.
 */
const sluiceHeader = encodeFrame({ type: FrameType.SignalDiff }, new Uint8Array(MESSAGE_BYTES - 16)).subarray(0, 16);
const sluice: Adapter = {
  receiverPath: '/stream/bench?batch=1',
  sourcePath: '/source/bench',
  args: [],
  message: { opcode: 2, prefix: Buffer.concat([sluiceHeader, text('{"p":"')]), body: MESSAGE_BYTES - 16 - 8, suffix: text('"}') },
};

/** The peers forward bytes: a 100-byte binary message (batched uWS concatenates a tick's). */
const plain: Adapter = {
  receiverPath: '/stream',
  sourcePath: '/source',
  args: [],
  message: { opcode: 2, prefix: none, body: MESSAGE_BYTES, suffix: none },
};

const socketio: Adapter = {
  receiverPath: '/socket.io/?EIO=4&transport=websocket',
  sourcePath: '/socket.io/?EIO=4&transport=websocket&role=source',
  // "0{…}" open packet → "40" connect → "40{…}" ack; engine.io ping "2" → pong "3"
  args: ['--expect', '0', '--send', '40', '--expect', '40', '--src-expect', '0', '--src-send', '40', '--src-expect', '40', '--reply-equal', '2', '3'],
  message: { opcode: 1, prefix: text('42["p","'), body: MESSAGE_BYTES - 11, suffix: text('"]') },
};

const CONNECT = 'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\\r\\n';
const nats: Adapter = {
  receiverPath: '/',
  sourcePath: '/',
  args: [
    ...['--expect', 'INFO', '--send', `${CONNECT}SUB bench 1\\r\\nPING\\r\\n`, '--expect', 'PONG'],
    ...['--src-expect', 'INFO', '--src-send', `${CONNECT}PING\\r\\n`, '--src-expect', 'PONG'],
    ...['--reply-prefix', 'PING', 'PONG\\r\\n'],
  ],
  message: { opcode: 1, prefix: text(`PUB bench ${MESSAGE_BYTES}\r\n`), body: MESSAGE_BYTES, suffix: text('\r\n') },
};

export const ADAPTERS: Record<string, Adapter> = {
  sluice,
  'sluice-uws': sluice,
  'ws-naive': plain,
  'ws-batched': plain,
  'uws-plain': plain,
  'uws-batched': plain,
  socketio,
  nats,
};
