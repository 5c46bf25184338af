/**
 * Framing of Sluice frames on an RTCDataChannel. A data channel message has a size limit
 * (`pc.sctp.maxMessageSize`, 256 KiB in Chromium) and a 1080p keyframe is 8 MB, so a frame is cut
 * into chunks; each data channel message starts with one tag byte:
 *
 * | tag | rest |
 * |-----|------|
 * | `0x00` whole | one complete frame |
 * | `0x01` first | u32 LE total frame length, then the first bytes |
 * | `0x02` more  | the next bytes of the frame being reassembled |
 * | `0x03` beat  | nothing: the sender is alive (heartbeat) |
 *
 * Chunks are only used on ordered, reliable channels, where they arrive in order and complete.
 * The reassembler holds at most one frame of at most `maxFrameBytes`.
 */

export const ChunkTag = { Whole: 0x00, First: 0x01, More: 0x02, Beat: 0x03 } as const;

/** One heartbeat message. */
export const HEARTBEAT = new Uint8Array([ChunkTag.Beat]);

/**
 * Splits a frame into data channel messages of at most `maxMessage` bytes each (tag included).
 *
 * @example chunkFrame(frame, 65536).forEach((m) => dc.send(m));
 */
export function chunkFrame(frame: Uint8Array, maxMessage: number): Uint8Array[] {
  if (maxMessage < 16) throw new RangeError(`maxMessage ${maxMessage} is too small`);
  if (frame.length + 1 <= maxMessage) {
    const m = new Uint8Array(frame.length + 1);
    m[0] = ChunkTag.Whole;
    m.set(frame, 1);
    return [m];
  }
  const out: Uint8Array[] = [];
  const firstRoom = maxMessage - 5;
  const first = new Uint8Array(maxMessage);
  first[0] = ChunkTag.First;
  new DataView(first.buffer).setUint32(1, frame.length, true);
  first.set(frame.subarray(0, firstRoom), 5);
  out.push(first);
  for (let at = firstRoom; at < frame.length; at += maxMessage - 1) {
    const part = frame.subarray(at, at + maxMessage - 1);
    const m = new Uint8Array(part.length + 1);
    m[0] = ChunkTag.More;
    m.set(part, 1);
    out.push(m);
  }
  return out;
}

export type ChunkResult =
  | { kind: 'frame'; frame: Uint8Array }
  | { kind: 'beat' }
  | { kind: 'partial' }
  /** Dropped: unknown tag, oversized, or a chunk out of sequence. The reassembler is reset. */
  | { kind: 'dropped'; why: string };

/** Reassembles the messages of {@link chunkFrame}, holding at most one frame of `maxFrameBytes`. */
export class Reassembler {
  private buf: Uint8Array | undefined;
  private filled = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held for a frame in progress. */
  get pendingBytes(): number {
    return this.buf?.length ?? 0;
  }

  push(msg: Uint8Array): ChunkResult {
    if (msg.length === 0) return this.drop('empty message');
    const tag = msg[0];
    if (tag === ChunkTag.Beat) return msg.length === 1 ? { kind: 'beat' } : this.drop('heartbeat with a body');
    if (tag === ChunkTag.Whole) {
      // A whole frame while another is half-assembled means the sender gave that one up.
      this.reset();
      if (msg.length - 1 > this.maxFrameBytes) return this.drop(`frame of ${msg.length - 1} bytes exceeds ${this.maxFrameBytes}`);
      return { kind: 'frame', frame: msg.slice(1) };
    }
    if (tag === ChunkTag.First) {
      this.reset();
      if (msg.length < 5) return this.drop('short first chunk');
      const total = new DataView(msg.buffer, msg.byteOffset, msg.length).getUint32(1, true);
      if (total > this.maxFrameBytes) return this.drop(`frame of ${total} bytes exceeds ${this.maxFrameBytes}`);
      if (msg.length - 5 > total) return this.drop('first chunk longer than its frame');
      this.buf = new Uint8Array(total);
      return this.append(msg.subarray(5));
    }
    if (tag === ChunkTag.More) {
      if (!this.buf) return this.drop('continuation without a first chunk');
      return this.append(msg.subarray(1));
    }
    return this.drop(`unknown chunk tag ${tag}`);
  }

  reset(): void {
    this.buf = undefined;
    this.filled = 0;
  }

  private append(part: Uint8Array): ChunkResult {
    const buf = this.buf!;
    if (this.filled + part.length > buf.length) return this.drop('chunks longer than the frame');
    buf.set(part, this.filled);
    this.filled += part.length;
    if (this.filled < buf.length) return { kind: 'partial' };
    this.reset();
    return { kind: 'frame', frame: buf };
  }

  private drop(why: string): ChunkResult {
    this.reset();
    return { kind: 'dropped', why };
  }
}
