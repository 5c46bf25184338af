/**
 * The 16-byte little-endian header that starts every Sluice message:
 * `type u8 | flags u8 | seq u16 | timestamp u32 | width u16 | height u16 | length u32`.
 */
import { ProtocolError } from './errors.js';
import { Flag, KNOWN_FLAGS, isFrameType, isInputType, frameTypeName } from './frame-codes.js';

export const HEADER_SIZE = 16;

/** Default refusal threshold for a payload: 16 MiB (a 1080p RGBA keyframe is 8.3 MB). */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * Default refusal threshold for a JSON-bearing payload (state, diffs, control frames, status and
 * event log records, actions): 1 MiB. Checked before any decoding or parsing.
 */
export const DEFAULT_MAX_JSON_PAYLOAD = 1024 * 1024;

export interface FrameHeader {
  /** Frame type, or input type when `flags & Flag.Input`. */
  type: number;
  flags: number;
  /** Per-sender sequence number, wraps at 2^16. */
  seq: number;
  /** Sender clock in milliseconds, wraps at 2^32. */
  timestamp: number;
  width: number;
  height: number;
  /** Payload length in bytes. */
  length: number;
}

/** Writes a header into `target` at `offset` (no allocation). */
export function writeHeader(target: Uint8Array, offset: number, h: FrameHeader): void {
  const v = new DataView(target.buffer, target.byteOffset + offset, HEADER_SIZE);
  v.setUint8(0, h.type);
  v.setUint8(1, h.flags);
  v.setUint16(2, h.seq & 0xffff, true);
  v.setUint32(4, h.timestamp >>> 0, true);
  v.setUint16(8, h.width, true);
  v.setUint16(10, h.height, true);
  v.setUint32(12, h.length, true);
}

/** Reads a header without validating it against the buffer; see {@link decodeHeader}. */
export function readHeader(buf: Uint8Array): FrameHeader {
  if (buf.length < HEADER_SIZE) {
    throw new ProtocolError('short-buffer', `message of ${buf.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  }
  const v = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  return {
    type: v.getUint8(0),
    flags: v.getUint8(1),
    seq: v.getUint16(2, true),
    timestamp: v.getUint32(4, true),
    width: v.getUint16(8, true),
    height: v.getUint16(10, true),
    length: v.getUint32(12, true),
  };
}

export interface DecodeOptions {
  /** Largest accepted payload in bytes; larger ones throw `too-large` (close code 1009). */
  maxPayload?: number;
  /**
   * Largest accepted JSON payload in bytes (SignalSync, SignalDiff, SchemaAnnounce,
   * SubscribeFilter, Hello, Welcome, Error, RpcCall, RpcResult, SourceStatus, status/event
   * LogRecords, Action inputs); larger ones throw `too-large` (close code 1009) before any
   * parsing. Defaults to {@link DEFAULT_MAX_JSON_PAYLOAD}.
   */
  maxJsonPayload?: number;
}

/**
 * Reads and validates a header: the buffer must hold exactly header + `length` bytes, the type
 * must be known (frame or input type, depending on FLAG_INPUT), unknown flag bits must be zero,
 * and the payload must not exceed `maxPayload`.
 */
export function decodeHeader(buf: Uint8Array, options?: DecodeOptions): FrameHeader {
  const h = readHeader(buf);
  const max = options?.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  if (h.length > max) {
    throw new ProtocolError('too-large', `payload of ${h.length} bytes exceeds the maximum of ${max}`);
  }
  if (buf.length - HEADER_SIZE !== h.length) {
    throw new ProtocolError('length-mismatch', `header says ${h.length} payload bytes, message carries ${buf.length - HEADER_SIZE}`);
  }
  if ((h.flags & ~KNOWN_FLAGS) !== 0) {
    throw new ProtocolError('bad-payload', `unknown flag bits 0x${h.flags.toString(16)}`);
  }
  if (h.flags & Flag.Input) {
    if (!isInputType(h.type)) throw new ProtocolError('unknown-type', `unknown input type 0x${h.type.toString(16)}`);
  } else if (!isFrameType(h.type)) {
    throw new ProtocolError('unknown-type', `unknown frame type ${frameTypeName(h.type)}`);
  }
  return h;
}

/** Fields accepted when building a frame; everything but `type` defaults to 0. */
export interface FrameFields {
  type: number;
  flags?: number;
  seq?: number;
  timestamp?: number;
  width?: number;
  height?: number;
}

/** Builds one message: header followed by `payload` (copied once into a fresh buffer). */
export function encodeFrame(fields: FrameFields, payload: Uint8Array = EMPTY): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  writeHeader(out, 0, {
    type: fields.type,
    flags: fields.flags ?? 0,
    seq: fields.seq ?? 0,
    timestamp: fields.timestamp ?? 0,
    width: fields.width ?? 0,
    height: fields.height ?? 0,
    length: payload.length,
  });
  out.set(payload, HEADER_SIZE);
  return out;
}

/** The payload of a complete message, as a view (no copy). */
export function payloadOf(buf: Uint8Array): Uint8Array {
  return buf.subarray(HEADER_SIZE);
}

const EMPTY = new Uint8Array(0);

