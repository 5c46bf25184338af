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

/** Deepest nesting accepted in a JSON payload; deeper input is refused rather than risking the stack. */
export const MAX_JSON_DEPTH = 64;

/** A JSON value as it travels on the wire. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Parses a UTF-8 JSON payload, refusing invalid text and nesting deeper than {@link MAX_JSON_DEPTH}. */
export function decodeJson(bytes: Uint8Array): JsonValue {
  const text = utf8Decode(bytes);
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (cause) {
    throw new ProtocolError('bad-json', 'payload is not valid JSON', { cause });
  }
  checkDepth(value);
  return value;
}

/** Parses a JSON payload that must be an object (not an array, not null). */
export function decodeJsonObject(bytes: Uint8Array, what: string): JsonObject {
  const value = decodeJson(bytes);
  if (!isJsonObject(value)) throw new ProtocolError('bad-payload', `${what} payload must be a JSON object`);
  return value;
}

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Iterative so that hostile nesting cannot overflow the stack here either.
function checkDepth(root: JsonValue): void {
  if (typeof root !== 'object' || root === null) return;
  const stack: Array<[JsonValue, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > MAX_JSON_DEPTH) throw new ProtocolError('too-deep', `JSON nesting deeper than ${MAX_JSON_DEPTH}`);
    const children = Array.isArray(v) ? v : Object.values(v as JsonObject);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
  }
}
