/** UTF-8 and JSON helpers shared by the codecs; decoding errors become ProtocolError. */
import { ProtocolError } from './errors.js';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8 decode: invalid byte sequences are refused, never replaced. */
export function utf8Decode(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new ProtocolError('bad-payload', 'payload is not valid UTF-8', { cause });
  }
}

/**
 * The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`, never splitting a
 * character: a surrogate pair (4 bytes) is kept or dropped whole; a lone surrogate counts as the
 * 3 bytes of the U+FFFD that TextEncoder writes for it. For WebSocket close reasons (123 bytes).
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text; // every UTF-16 unit encodes to at most 3 bytes
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    let units = 1;
    let size: number;
    if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        size = 4;
        units = 2;
      } else size = 3;
    } else size = 3;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += units;
  }
  return i === text.length ? text : text.slice(0, i);
}

/** Deepest nesting accepted in a JSON payload; deeper input is refused rather than risking the stack. */
export const MAX_JSON_DEPTH = 64;

/** A JSON value as it travels on the wire. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const COLON = 0x3a;

/**
 * Byte-level nesting check of a UTF-8 JSON payload, run BEFORE decoding or parsing so hostile
 * nesting costs one linear pass over the bytes and nothing more (about 1 ms per MiB). Counts `[`
 * and `{` outside strings (a backslash inside a string escapes the next byte); the bytes it looks
 * at are ASCII and never occur inside a multi-byte UTF-8 sequence, so no decoding is needed. For
 * valid JSON the depth it measures is exact; a closer with no opener is refused as `bad-json`.
 * Throws ProtocolError('too-deep') past `maxDepth`.
 */
export function checkJsonDepth(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH, maxMembers = Infinity): void {
  const n = bytes.length;
  let depth = 0;
  let members = 0;
  let i = 0;
  while (i < n) {
    const c = bytes[i++]!;
    if (c === QUOTE) {
      for (;;) {
        if (i >= n) return; // unterminated string: JSON.parse refuses it
        const d = bytes[i++]!;
        if (d === QUOTE) break;
        if (d === BACKSLASH) i++;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) throw new ProtocolError('too-deep', `JSON nesting deeper than ${maxDepth}`);
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (--depth < 0) throw new ProtocolError('bad-json', 'payload is not valid JSON (unbalanced bracket)');
    } else if (c === COLON && ++members > maxMembers) {
      throw new ProtocolError('too-large', `JSON payload has more than ${maxMembers} object members`);
    }
  }
}

/**
 * Object members allowed per byte of a JSON size limit: parsing and merging cost grows with the
 * number of members far more than with bytes (a 1 MiB object of 70,000 tiny members takes
 * ~100 ms to parse and as long to merge), so a payload may hold one member per this many bytes
 * of its limit — 8,192 members at the default 1 MiB.
 */
export const JSON_BYTES_PER_MEMBER = 128;

/**
 * Parses a UTF-8 JSON payload. In order, each step before any work proportional to the input:
 * size (`too-large`, close 1009, when `maxBytes` is given), nesting ({@link checkJsonDepth}),
 * strict UTF-8, then JSON.parse. No check after parsing is needed: for text JSON.parse accepts,
 * the byte scan measured the exact depth.
 */
export function decodeJson(bytes: Uint8Array, maxBytes?: number): JsonValue {
  if (maxBytes !== undefined && bytes.length > maxBytes) {
    throw new ProtocolError('too-large', `JSON payload of ${bytes.length} bytes exceeds the maximum of ${maxBytes}`);
  }
  checkJsonDepth(bytes, MAX_JSON_DEPTH, maxBytes === undefined ? Infinity : Math.max(64, Math.floor(maxBytes / JSON_BYTES_PER_MEMBER)));
  const text = utf8Decode(bytes);
  try {
    return JSON.parse(text) as JsonValue;
  } catch (cause) {
    throw new ProtocolError('bad-json', 'payload is not valid JSON', { cause });
  }
}

/** Parses a JSON payload that must be an object (not an array, not null); see {@link decodeJson}. */
export function decodeJsonObject(bytes: Uint8Array, what: string, maxBytes?: number): JsonObject {
  const value = decodeJson(bytes, maxBytes);
  if (!isJsonObject(value)) throw new ProtocolError('bad-payload', `${what} payload must be a JSON object`);
  return value;
}

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
