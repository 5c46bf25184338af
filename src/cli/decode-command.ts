/**
 * `sluice decode <hex>`: prints a wire message as JSON — handy when reading captures or docs.
 * Byte payloads that are text (log lines, JSON status and event records) are shown as text, with
 * the parsed JSON where the stream carries JSON; other bytes as hex; a Batch's frames decoded.
 */
import { decodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { frameTypeName } from '../protocol/frame-codes.js';
import { readHeader } from '../protocol/header.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Bytes longer than this are shown as the first this-many in hex, then a count. */
const MAX_HEX_BYTES = 256;

/** Text when the bytes are UTF-8 without control characters other than tab, newline, CR and ESC (ANSI colours). */
export function bytesAsText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex -- exactly what is being checked
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001a\u001c-\u001f\u007f]/.test(text) ? undefined : text;
}

function hex(bytes: Uint8Array): string {
  const shown = Array.from(bytes.subarray(0, MAX_HEX_BYTES), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > MAX_HEX_BYTES ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** A byte payload for people: `{bytes, text}` (plus `json` for JSON streams) or `{bytes, hex}`. */
function describeBytes(bytes: Uint8Array, json: boolean): Record<string, unknown> {
  const text = bytesAsText(bytes);
  if (text === undefined) return { bytes: bytes.length, hex: hex(bytes) };
  if (!json) return { bytes: bytes.length, text };
  try {
    return { bytes: bytes.length, text, json: JSON.parse(text) as unknown };
  } catch {
    return { bytes: bytes.length, text, json: null, note: 'not valid JSON' };
  }
}

function present(m: Message, maxPayload: number | undefined): unknown {
  if (m.kind === 'log-record') return { ...m, data: describeBytes(m.data, m.stream === 'status' || m.stream === 'event') };
  if (m.kind === 'batch') {
    return {
      ...m,
      frames: m.frames.map((f) => {
        try {
          return present(decodeMessage(f, maxPayload === undefined ? undefined : { maxPayload }), maxPayload);
        } catch (e) {
          return { error: (e as Error).message, ...describeBytes(f, false) };
        }
      }),
    };
  }
  return m;
}

/** Decodes a hex string (spaces allowed) and returns the JSON text to print. */
export function decodeHexMessage(hexText: string, maxPayload?: number): string {
  const clean = hexText.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error('expected hex bytes, e.g. "fe 00 01 00 …"');
  const bytes = Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
  const header = readHeader(bytes);
  const message = decodeMessage(bytes, maxPayload === undefined ? undefined : { maxPayload });
  return JSON.stringify(
    { header: { ...header, typeName: frameTypeName(header.type) }, message: present(message, maxPayload) },
    (_k, v: unknown) => (v instanceof Uint8Array ? describeBytes(v, false) : v instanceof Float32Array ? Array.from(v) : v),
    2,
  );
}
