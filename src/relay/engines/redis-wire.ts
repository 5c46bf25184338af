/**
 * What relay nodes send each other over Redis pub/sub. One layout for channel updates and
 * status (u32 header length, JSON header, payload bytes), one for inputs on their way to the
 * source's node, one for RPC results on their way back to the caller's node.
 */

/** An update, numbered by the channel's offset within the channel epoch `ce`. */
export interface UpdateHeader {
  k: 'd' | 's' | 'p' | 'x' | 'r' | 'l' | 'm' | 'e';
  /** Channel offset (every update bumps it). */
  o: number;
  /** Channel epoch: changes when the channel's data was lost and recreated. */
  ce: string;
  /** Writer's node id. */
  n: string;
  /** Log records: offset, producer and its seq, and whether the history restarted here. */
  lo?: number;
  pr?: string;
  ps?: number;
  rs?: 1;
}

/** The source went online or offline (on node `n`). Not numbered. */
export interface StatusHeader {
  k: 'st';
  n: string;
  on: boolean;
  since: number;
}

export type WireHeader = UpdateHeader | StatusHeader;

export function encodeWire(header: WireHeader, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(4 + h.length + payload.length);
  out.writeUInt32LE(h.length, 0);
  h.copy(out, 4);
  out.set(payload, 4 + h.length);
  return out;
}

export function decodeWire(buf: Buffer): { header: WireHeader; payload: Uint8Array } {
  const n = buf.readUInt32LE(0);
  const header = JSON.parse(buf.toString('utf8', 4, 4 + n)) as WireHeader;
  // A private copy: caches keep frames, and the socket's buffer may be reused.
  return { header, payload: new Uint8Array(buf.subarray(4 + n)) };
}

/** An input or RPC call for the source's node: the caller's node id, then the tagged frame. */
export function encodeInput(node: string, frame: Uint8Array): Buffer {
  const id = Buffer.from(node, 'utf8');
  const out = Buffer.allocUnsafe(1 + id.length + frame.length);
  out[0] = id.length;
  id.copy(out, 1);
  out.set(frame, 1 + id.length);
  return out;
}

export function decodeInput(buf: Buffer): { node: string; frame: Uint8Array } {
  const n = buf[0] ?? 0;
  return { node: buf.toString('utf8', 1, 1 + n), frame: new Uint8Array(buf.subarray(1 + n)) };
}

/** A frame for receiver `receiver` of channel `channel` on the node it is sent to. */
export function encodeResult(channel: string, receiver: number, frame: Uint8Array): Buffer {
  const name = Buffer.from(channel, 'utf8');
  const out = Buffer.allocUnsafe(2 + name.length + 4 + frame.length);
  out.writeUInt16LE(name.length, 0);
  name.copy(out, 2);
  out.writeUInt32LE(receiver >>> 0, 2 + name.length);
  out.set(frame, 6 + name.length);
  return out;
}

export function decodeResult(buf: Buffer): { channel: string; receiver: number; frame: Uint8Array } {
  const n = buf.readUInt16LE(0);
  return { channel: buf.toString('utf8', 2, 2 + n), receiver: buf.readUInt32LE(2 + n), frame: new Uint8Array(buf.subarray(6 + n)) };
}
