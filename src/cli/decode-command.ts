/** `sluice decode <hex>`: prints a wire message as JSON — handy when reading captures or docs. */
import { decodeMessage } from '../protocol/message.js';
import { frameTypeName } from '../protocol/frame-codes.js';
import { readHeader } from '../protocol/header.js';

/** Decodes a hex string (spaces allowed) and returns the JSON text to print. */
export function decodeHexMessage(hex: string, maxPayload?: number): string {
  const clean = hex.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error('expected hex bytes, e.g. "fe 00 01 00 …"');
  const bytes = Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
  const header = readHeader(bytes);
  const message = decodeMessage(bytes, maxPayload === undefined ? undefined : { maxPayload });
  return JSON.stringify(
    { header: { ...header, typeName: frameTypeName(header.type) }, message },
    (_k, v: unknown) => (v instanceof Uint8Array || v instanceof Float32Array ? Array.from(v) : v),
    2,
  );
}
