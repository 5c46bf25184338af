/**
 * Frames that many receivers get in the same tick, framed for the transport once and
 * concatenated once: each receiver then writes one slice of the same buffer. This is what makes
 * fan-out cost one socket write per receiver per tick, whatever the number of frames.
 */
/** A peer whose open reference into a batch was interrupted, to be re-opened on the next append. */
export interface BatchFollower {
  resumeShared(batch: SharedBatch, index: number): void;
}

export class SharedBatch {
  /** Members of the audience that are behind this tick (each appended frame is conflated for them). */
  behind = 0;
  /** Followers interrupted since the last append; they re-join at the next frame. */
  waiters: BatchFollower[] = [];
  /** Protocol frames, as produced (for connections that need them one by one). */
  readonly frames: Uint8Array[] = [];
  /** The same frames, framed for the transport. */
  readonly framed: Uint8Array[] = [];
  /** offsets[i] = byte offset of framed[i] in the concatenation; offsets[n] = total. */
  readonly offsets: number[] = [0];
  private joined: Uint8Array | undefined;
  private batched: { from: number; to: number; bytes: Uint8Array } | undefined;

  constructor(readonly tick: number) {}

  get length(): number {
    return this.frames.length;
  }

  /**
   * Appends a frame; returns its index. Open references take it implicitly; interrupted
   * followers are re-attached from this frame on.
   */
  push(frame: Uint8Array, framed: Uint8Array): number {
    this.frames.push(frame);
    this.framed.push(framed);
    this.offsets.push(this.offsets[this.offsets.length - 1]! + framed.length);
    this.joined = undefined;
    this.batched = undefined;
    const index = this.frames.length - 1;
    if (this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f.resumeShared(this, index);
    }
    return index;
  }

  /**
   * Frames [from, to) as ONE transport message: a Batch frame wrapping them (for receivers that
   * asked for batches). The full-range result is built once and shared by every receiver.
   */
  sliceBatched(from: number, to: number, frameForTransport: (payload: Uint8Array) => Uint8Array): Uint8Array {
    if (to - from === 1) return this.framed[from]!;
    const cached = this.batched;
    if (cached && cached.from === from && cached.to === to) return cached.bytes;
    let n = 0;
    for (let i = from; i < to; i++) n += this.frames[i]!.length;
    const payload = new Uint8Array(16 + n);
    const v = new DataView(payload.buffer);
    v.setUint8(0, 0xa9); // FrameType.Batch
    v.setUint32(12, n, true);
    let at = 16;
    for (let i = from; i < to; i++) {
      payload.set(this.frames[i]!, at);
      at += this.frames[i]!.length;
    }
    const bytes = frameForTransport(payload);
    if (from === 0 && to === this.frames.length) this.batched = { from, to, bytes };
    return bytes;
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
