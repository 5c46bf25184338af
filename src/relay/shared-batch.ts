/**
 * Frames that many receivers get in the same tick, framed for the transport once and
 * concatenated once: each receiver then writes one slice of the same buffer. This is what makes
 * fan-out cost one socket write per receiver per tick, whatever the number of frames.
 */
export class SharedBatch {
  /** Protocol frames, as produced (for connections that need them one by one). */
  readonly frames: Uint8Array[] = [];
  /** The same frames, framed for the transport. */
  readonly framed: Uint8Array[] = [];
  /** offsets[i] = byte offset of framed[i] in the concatenation; offsets[n] = total. */
  readonly offsets: number[] = [0];
  private joined: Uint8Array | undefined;

  constructor(readonly tick: number) {}

  get length(): number {
    return this.frames.length;
  }

  /** Appends a frame; returns its index. */
  push(frame: Uint8Array, framed: Uint8Array): number {
    this.frames.push(frame);
    this.framed.push(framed);
    this.offsets.push(this.offsets[this.offsets.length - 1]! + framed.length);
    this.joined = undefined;
    return this.frames.length - 1;
  }

  /** Transport bytes of frames [from, to), as one buffer (a view into the shared concatenation). */
  slice(from: number, to: number): Uint8Array {
    if (to - from === 1) return this.framed[from]!;
    if (this.joined === undefined) {
      const all = new Uint8Array(this.offsets[this.offsets.length - 1]!);
      for (let i = 0; i < this.framed.length; i++) all.set(this.framed[i]!, this.offsets[i]!);
      this.joined = all;
    }
    return this.joined.subarray(this.offsets[from]!, this.offsets[to]!);
  }
}
