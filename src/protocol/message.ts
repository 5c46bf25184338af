/**
 * Typed messages: every frame of the protocol as a discriminated union, with one encoder and
 * one decoder. The decoder is the gate for untrusted bytes — it throws ProtocolError and
 * nothing else. Byte payloads are returned as views into the input (no copy).
 */
import { decodeAudioPrefix, decodePcm, encodeAudioPrefix, encodePcm, AUDIO_PREFIX_SIZE } from './audio.js';
import {
  LOG_RECORD_PREFIX,
  LOG_STREAM_NAMES,
  MAX_LOG_TIME,
  readU64,
  validateError,
  validateHello,
  validateLogData,
  validateRpcCall,
  validateRpcResult,
  validateSchema,
  validateSourceStatus,
  validateWelcome,
  writeU64,
} from './control.js';
import type {
  ErrorInfo,
  HelloInfo,
  LogStreamName,
  RpcCallInfo,
  RpcResultInfo,
  SchemaInfo,
  SourceStatusInfo,
  WelcomeInfo,
} from './control.js';
import { ProtocolError } from './errors.js';
import { Flag, FrameType } from './frame-codes.js';
import { DEFAULT_MAX_JSON_PAYLOAD, HEADER_SIZE, decodeHeader, writeHeader } from './header.js';
import type { DecodeOptions } from './header.js';
import { decodeInputPayload, encodeInputPayload, inputTypeOf } from './inputs.js';
import type { InputEvent } from './inputs.js';
import { parseSelect } from './select.js';
import { decodeJsonObject, encodeJson, utf8Decode, utf8Encode } from './utf8.js';
import type { JsonObject } from './utf8.js';

/** Header fields every message may carry. `flags` adds to the flags a kind implies. */
export interface MessageBase {
  seq?: number;
  timestamp?: number;
  flags?: number;
  /** Connection id prefix (FLAG_SENDER): who sent an input/RPC, or which receiver a result is for. */
  sender?: number;
}

interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}
interface Pcm {
  sampleRate: number;
  channels: number;
  samples: Float32Array;
}

export type Message = MessageBase &
  (
    | ({ kind: 'pixels' } & Raster)
    | ({ kind: 'compressed-pixels' } & Raster)
    | ({ kind: 'delta-pixels' } & Raster)
    | ({ kind: 'keyframe' } & Raster)
    | ({ kind: 'neural-frame' } & Raster)
    | ({ kind: 'audio-pcm' } & Pcm)
    | ({ kind: 'neural-audio' } & Pcm)
    | { kind: 'audio-compressed'; sampleRate: number; channels: number; data: Uint8Array }
    | { kind: 'haptic'; intensity: number; durationMs: number }
    | { kind: 'signal-sync'; state: JsonObject }
    | { kind: 'signal-diff'; diff: JsonObject }
    | { kind: 'schema-announce'; schema: SchemaInfo }
    | { kind: 'subscribe-filter'; select: string[] | null }
    | { kind: 'ping' }
    | { kind: 'pong' }
    | { kind: 'stream-end'; reason: string }
    | { kind: 'hello'; hello: HelloInfo }
    | { kind: 'welcome'; welcome: WelcomeInfo }
    | { kind: 'error'; error: ErrorInfo }
    | { kind: 'resume'; offset: number }
    | { kind: 'rpc-call'; call: RpcCallInfo }
    | { kind: 'rpc-result'; result: RpcResultInfo }
    | { kind: 'log-record'; offset: number; time: number; stream: LogStreamName; data: Uint8Array }
    | { kind: 'source-status'; status: SourceStatusInfo }
    | { kind: 'history-truncated'; requested: number; firstAvailable: number }
    /** LogAck: every record of the source's producer with producer seq <= `logAcked` is committed. */
    | { kind: 'log-ack'; logAcked: number }
    | { kind: 'input'; event: InputEvent }
    | { kind: 'batch'; frames: Uint8Array[] }
  );

export type MessageKind = Message['kind'];
/** The message of one kind, e.g. `MessageOf<'signal-diff'>`. */
export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>;

const RASTER_TYPE = {
  pixels: FrameType.Pixels,
  'compressed-pixels': FrameType.CompressedPixels,
  'delta-pixels': FrameType.DeltaPixels,
  keyframe: FrameType.Keyframe,
  'neural-frame': FrameType.NeuralFrame,
} as const;

function u64Payload(...values: number[]): Uint8Array {
  const b = new Uint8Array(8 * values.length);
  const v = new DataView(b.buffer);
  values.forEach((n, i) => writeU64(v, i * 8, n));
  return b;
}

/** Frame type, implied flags, width, height and payload of a message. */
function parts(m: Message): [type: number, flags: number, width: number, height: number, payload: Uint8Array] {
  switch (m.kind) {
    case 'pixels':
    case 'compressed-pixels':
    case 'delta-pixels':
    case 'keyframe':
    case 'neural-frame':
      return [RASTER_TYPE[m.kind], m.kind === 'keyframe' ? Flag.Keyframe : 0, m.width, m.height, m.data];
    case 'audio-pcm':
      return [FrameType.AudioPcm, 0, 0, 0, encodePcm(m.sampleRate, m.channels, m.samples)];
    case 'neural-audio':
      return [FrameType.NeuralAudio, 0, 0, 0, encodePcm(m.sampleRate, m.channels, m.samples)];
    case 'audio-compressed': {
      const [b] = encodeAudioPrefix(m.sampleRate, m.channels, m.data.length);
      b.set(m.data, AUDIO_PREFIX_SIZE);
      return [FrameType.AudioCompressed, 0, 0, 0, b];
    }
    case 'haptic': {
      const b = new Uint8Array(4);
      const v = new DataView(b.buffer);
      v.setUint8(0, m.intensity);
      v.setUint16(2, m.durationMs, true);
      return [FrameType.Haptic, 0, 0, 0, b];
    }
    case 'signal-sync':
      return [FrameType.SignalSync, Flag.Keyframe, 0, 0, encodeJson(m.state)];
    case 'signal-diff':
      return [FrameType.SignalDiff, 0, 0, 0, encodeJson(m.diff)];
    case 'schema-announce':
      return [FrameType.SchemaAnnounce, 0, 0, 0, encodeJson(m.schema)];
    case 'subscribe-filter':
      return [FrameType.SubscribeFilter, 0, 0, 0, encodeJson({ select: m.select ?? [] })];
    case 'ping':
      return [FrameType.Ping, 0, 0, 0, new Uint8Array(0)];
    case 'pong':
      return [FrameType.Pong, 0, 0, 0, new Uint8Array(0)];
    case 'stream-end':
      return [FrameType.StreamEnd, 0, 0, 0, utf8Encode(m.reason)];
    case 'hello':
      return [FrameType.Hello, 0, 0, 0, encodeJson(m.hello)];
    case 'welcome':
      return [FrameType.Welcome, 0, 0, 0, encodeJson(m.welcome)];
    case 'error':
      return [FrameType.Error, 0, 0, 0, encodeJson(m.error)];
    case 'resume':
      return [FrameType.Resume, 0, 0, 0, u64Payload(m.offset)];
    case 'rpc-call':
      return [FrameType.RpcCall, 0, 0, 0, encodeJson(m.call)];
    case 'rpc-result':
      return [FrameType.RpcResult, 0, 0, 0, encodeJson(m.result)];
    case 'log-record': {
      const b = new Uint8Array(LOG_RECORD_PREFIX + m.data.length);
      const v = new DataView(b.buffer);
      writeU64(v, 0, m.offset);
      writeU64(v, 8, m.time);
      v.setUint8(16, LOG_STREAM_NAMES.indexOf(m.stream));
      b.set(m.data, LOG_RECORD_PREFIX);
      return [FrameType.LogRecord, 0, 0, 0, b];
    }
    case 'source-status':
      return [FrameType.SourceStatus, 0, 0, 0, encodeJson(m.status)];
    case 'history-truncated':
      return [FrameType.HistoryTruncated, 0, 0, 0, u64Payload(m.requested, m.firstAvailable)];
    case 'log-ack':
      return [FrameType.LogAck, 0, 0, 0, u64Payload(m.logAcked)];
    case 'input':
      return [inputTypeOf(m.event), Flag.Input, 0, 0, encodeInputPayload(m.event)];
    case 'batch':
      return [FrameType.Batch, 0, 0, 0, concatFrames(m.frames)];
  }
}

function concatFrames(frames: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const f of frames) n += f.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/**
 * Splits a Batch payload into its messages (views, no copy). Each must have a valid header, fit
 * exactly, and not be a Batch itself; the messages' own payloads are checked when decoded.
 */
export function splitBatch(payload: Uint8Array, options?: DecodeOptions): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < payload.length) {
    if (payload.length - at < HEADER_SIZE) throw new ProtocolError('bad-payload', 'Batch ends inside a message header');
    const len = new DataView(payload.buffer, payload.byteOffset + at + 12, 4).getUint32(0, true);
    if (at + HEADER_SIZE + len > payload.length) throw new ProtocolError('bad-payload', 'Batch ends inside a message');
    const frame = payload.subarray(at, at + HEADER_SIZE + len);
    decodeHeader(frame, options);
    if (frame[0] === FrameType.Batch && (frame[1]! & Flag.Input) === 0) throw new ProtocolError('bad-payload', 'Batch inside a Batch');
    out.push(frame);
    at += HEADER_SIZE + len;
  }
  if (out.length === 0) throw new ProtocolError('bad-payload', 'empty Batch');
  return out;
}

/** Encodes a message into one self-contained buffer (header + payload). */
export function encodeMessage(m: Message): Uint8Array {
  const [type, implied, width, height, body] = parts(m);
  let flags = (m.flags ?? 0) | implied;
  const prefix = m.sender !== undefined ? 4 : 0;
  if (prefix) flags |= Flag.Sender;
  const out = new Uint8Array(HEADER_SIZE + prefix + body.length);
  writeHeader(out, 0, {
    type,
    flags,
    seq: m.seq ?? 0,
    timestamp: m.timestamp ?? 0,
    width,
    height,
    length: prefix + body.length,
  });
  if (prefix) new DataView(out.buffer).setUint32(HEADER_SIZE, m.sender! >>> 0, true);
  out.set(body, HEADER_SIZE + prefix);
  return out;
}

function raster(kind: keyof typeof RASTER_TYPE, w: number, h: number, data: Uint8Array): Message {
  // Raw RGBA must match its dimensions; a keyframe with no payload is a bare "reset".
  const raw = kind === 'pixels' || (kind === 'keyframe' && data.length > 0);
  if (raw && data.length !== w * h * 4) {
    throw new ProtocolError('bad-payload', `${kind} of ${w}x${h} needs ${w * h * 4} bytes, got ${data.length}`);
  }
  return { kind, width: w, height: h, data };
}

/**
 * Decodes one message. Validates the header (see decodeHeader) and the payload layout of its
 * type. Throws ProtocolError — with the close code to use — for anything malformed.
 */
export function decodeMessage(buf: Uint8Array, options?: DecodeOptions): Message {
  const h = decodeHeader(buf, options);
  let p = buf.subarray(HEADER_SIZE);
  let sender: number | undefined;
  if (h.flags & Flag.Sender) {
    if (p.length < 4) throw new ProtocolError('bad-payload', 'FLAG_SENDER set but payload has no sender id');
    sender = new DataView(p.buffer, p.byteOffset, 4).getUint32(0, true);
    p = p.subarray(4);
  }
  const m = decodeBody(h.type, h.flags, h.width, h.height, p, options?.maxJsonPayload ?? DEFAULT_MAX_JSON_PAYLOAD, options);
  m.seq = h.seq;
  m.timestamp = h.timestamp;
  m.flags = h.flags;
  if (sender !== undefined) m.sender = sender;
  return m;
}

function decodeBody(type: number, flags: number, w: number, h: number, p: Uint8Array, maxJson: number, options: DecodeOptions | undefined): Message {
  if (flags & Flag.Input) return { kind: 'input', event: decodeInputPayload(type, p, maxJson) };
  switch (type) {
    case FrameType.Pixels:
      return raster('pixels', w, h, p);
    case FrameType.CompressedPixels:
      return raster('compressed-pixels', w, h, p);
    case FrameType.DeltaPixels:
      return raster('delta-pixels', w, h, p);
    case FrameType.Keyframe:
      return raster('keyframe', w, h, p);
    case FrameType.NeuralFrame:
      return raster('neural-frame', w, h, p);
    case FrameType.AudioPcm:
      return { kind: 'audio-pcm', ...decodePcm(p) };
    case FrameType.NeuralAudio:
      return { kind: 'neural-audio', ...decodePcm(p) };
    case FrameType.AudioCompressed: {
      const a = decodeAudioPrefix(p);
      return { kind: 'audio-compressed', sampleRate: a.sampleRate, channels: a.channels, data: a.data };
    }
    case FrameType.Haptic: {
      if (p.length !== 4) throw new ProtocolError('bad-payload', 'haptic payload is 4 bytes');
      const v = new DataView(p.buffer, p.byteOffset, 4);
      return { kind: 'haptic', intensity: v.getUint8(0), durationMs: v.getUint16(2, true) };
    }
    case FrameType.SignalSync:
      return { kind: 'signal-sync', state: decodeJsonObject(p, 'SignalSync', maxJson) };
    case FrameType.SignalDiff:
      return { kind: 'signal-diff', diff: decodeJsonObject(p, 'SignalDiff', maxJson) };
    case FrameType.SchemaAnnounce:
      return { kind: 'schema-announce', schema: validateSchema(decodeJsonObject(p, 'SchemaAnnounce', maxJson)) };
    case FrameType.SubscribeFilter: {
      const sel = decodeJsonObject(p, 'SubscribeFilter', maxJson).select;
      if (sel !== undefined && sel !== null && !Array.isArray(sel)) throw new ProtocolError('bad-payload', 'SubscribeFilter.select must be an array of strings');
      return { kind: 'subscribe-filter', select: parseSelect(sel) };
    }
    case FrameType.Ping:
      return { kind: 'ping' };
    case FrameType.Pong:
      return { kind: 'pong' };
    case FrameType.StreamEnd:
      return { kind: 'stream-end', reason: utf8Decode(p) };
    case FrameType.Hello:
      return { kind: 'hello', hello: validateHello(p.length === 0 ? {} : decodeJsonObject(p, 'Hello', maxJson)) };
    case FrameType.Welcome:
      return { kind: 'welcome', welcome: validateWelcome(decodeJsonObject(p, 'Welcome', maxJson)) };
    case FrameType.Error:
      return { kind: 'error', error: validateError(decodeJsonObject(p, 'Error', maxJson)) };
    case FrameType.Resume: {
      if (p.length !== 8) throw new ProtocolError('bad-payload', 'Resume payload is a u64 offset (8 bytes)');
      return { kind: 'resume', offset: readU64(new DataView(p.buffer, p.byteOffset, 8), 0) };
    }
    case FrameType.RpcCall:
      return { kind: 'rpc-call', call: validateRpcCall(decodeJsonObject(p, 'RpcCall', maxJson)) };
    case FrameType.RpcResult:
      return { kind: 'rpc-result', result: validateRpcResult(decodeJsonObject(p, 'RpcResult', maxJson)) };
    case FrameType.LogRecord: {
      if (p.length < LOG_RECORD_PREFIX) throw new ProtocolError('bad-payload', `LogRecord needs at least ${LOG_RECORD_PREFIX} bytes`);
      const v = new DataView(p.buffer, p.byteOffset, LOG_RECORD_PREFIX);
      const stream = LOG_STREAM_NAMES[v.getUint8(16)];
      if (stream === undefined) throw new ProtocolError('bad-payload', `unknown log stream ${v.getUint8(16)}`);
      const time = readU64(v, 8);
      if (time > MAX_LOG_TIME) throw new ProtocolError('bad-payload', `LogRecord time ${time} is past the Date range`);
      const data = p.subarray(LOG_RECORD_PREFIX);
      validateLogData(stream, data, maxJson);
      return { kind: 'log-record', offset: readU64(v, 0), time, stream, data };
    }
    case FrameType.SourceStatus:
      return { kind: 'source-status', status: validateSourceStatus(decodeJsonObject(p, 'SourceStatus', maxJson)) };
    case FrameType.Batch:
      return { kind: 'batch', frames: splitBatch(p, options) };
    case FrameType.HistoryTruncated: {
      if (p.length !== 16) throw new ProtocolError('bad-payload', 'HistoryTruncated payload is two u64 (16 bytes)');
      const v = new DataView(p.buffer, p.byteOffset, 16);
      return { kind: 'history-truncated', requested: readU64(v, 0), firstAvailable: readU64(v, 8) };
    }
    case FrameType.LogAck: {
      if (p.length !== 8) throw new ProtocolError('bad-payload', 'LogAck payload is a u64 seq (8 bytes)');
      return { kind: 'log-ack', logAcked: readU64(new DataView(p.buffer, p.byteOffset, 8), 0) };
    }
    default:
      throw new ProtocolError('unknown-type', `unknown frame type 0x${type.toString(16)}`);
  }
}
