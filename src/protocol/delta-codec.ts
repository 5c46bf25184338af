/**
 * DeltaPixels codec: XOR the new frame against the previous one, then run-length encode the
 * zero bytes. Token format (the whole payload is a sequence of tokens):
 *
 *   0x00 lo hi   a run of N = lo | hi << 8 zero bytes (1 ≤ N ≤ 65535) — unchanged bytes
 *   b (≠ 0x00)   one literal byte: the XOR of old and new at this position
 *
 * The tokens must expand to exactly width × height × 4 bytes. XOR and RLE are fused: no XOR
 * buffer is materialised, and unchanged 32-bit words are skipped four bytes at a time.
 */
import { ProtocolError } from './errors.js';

/** Largest possible encoding of `n` bytes: every other byte zero costs 3 + 1 per 2 bytes. */
export function maxDeltaSize(n: number): number {
  return 2 * n + 3;
}

/** Writes `zeros` unchanged bytes as 0x00 lo hi tokens (≤ 65535 each); returns the new offset. */
function writeZeroRuns(out: Uint8Array, o: number, zeros: number): number {
  while (zeros > 0) {
    const run = zeros > 0xffff ? 0xffff : zeros;
    out[o++] = 0;
    out[o++] = run & 0xff;
    out[o++] = run >>> 8;
    zeros -= run;
  }
  return o;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Encodes `cur` as a delta against `prev` (same length). Writes into `scratch` when it is large
 * enough (see {@link maxDeltaSize}) and returns a view of it — copy it before reusing `scratch`.
 */
export function encodeDelta(prev: Uint8Array, cur: Uint8Array, scratch?: Uint8Array): Uint8Array {
  const n = cur.length;
  if (prev.length !== n) throw new ProtocolError('bad-delta', `frame sizes differ: ${prev.length} vs ${n}`);
  const out = scratch !== undefined && scratch.length >= maxDeltaSize(n) ? scratch : new Uint8Array(maxDeltaSize(n));
  let o = 0;
  let zeros = 0;
  let i = 0;

  if (LITTLE_ENDIAN && (prev.byteOffset & 3) === 0 && (cur.byteOffset & 3) === 0 && n >= 4) {
    const words = n >>> 2;
    const p32 = new Uint32Array(prev.buffer, prev.byteOffset, words);
    const c32 = new Uint32Array(cur.buffer, cur.byteOffset, words);
    let w = 0;
    while (w < words) {
      // Tight skip over unchanged words: this loop is where unchanged frames spend their time.
      const start = w;
      while (w < words && p32[w] === c32[w]) w++;
      zeros += (w - start) << 2;
      if (w === words) break;
      const x = p32[w]! ^ c32[w]!;
      w++;
      // No zero byte in the word (classic has-zero-byte test): four literals in a row.
      if ((((x - 0x01010101) & ~x & 0x80808080) >>> 0) === 0) {
        o = writeZeroRuns(out, o, zeros);
        zeros = 0;
        out[o] = x & 0xff;
        out[o + 1] = (x >>> 8) & 0xff;
        out[o + 2] = (x >>> 16) & 0xff;
        out[o + 3] = x >>> 24;
        o += 4;
        continue;
      }
      for (let k = 0; k < 4; k++) {
        const b = (x >>> (k << 3)) & 0xff;
        if (b === 0) {
          zeros++;
          continue;
        }
        o = writeZeroRuns(out, o, zeros);
        zeros = 0;
        out[o++] = b;
      }
    }
    i = words << 2;
  }

  for (; i < n; i++) {
    const b = prev[i]! ^ cur[i]!;
    if (b === 0) {
      zeros++;
      continue;
    }
    o = writeZeroRuns(out, o, zeros);
    zeros = 0;
    out[o++] = b;
  }
  o = writeZeroRuns(out, o, zeros);
  return out.subarray(0, o);
}

/**
 * Checks that `delta` is a well-formed token stream expanding to exactly `n` bytes, without
 * touching any frame. Throws ProtocolError(`bad-delta`) otherwise.
 */
export function validateDelta(delta: Uint8Array, n: number): void {
  let p = 0;
  const len = delta.length;
  for (let i = 0; i < len; ) {
    if (delta[i++] === 0) {
      if (i + 2 > len) throw new ProtocolError('bad-delta', 'truncated zero-run token');
      const run = delta[i]! | (delta[i + 1]! << 8);
      i += 2;
      if (run === 0) throw new ProtocolError('bad-delta', 'zero-run token of length 0');
      p += run;
    } else p++;
    if (p > n) throw new ProtocolError('bad-delta', `delta expands past the ${n}-byte frame`);
  }
  if (p !== n) throw new ProtocolError('bad-delta', `delta expands to ${p} bytes, frame has ${n}`);
}

/**
 * Applies `delta` to `frame` in place. The token stream is validated first, so a malformed
 * delta throws and leaves `frame` untouched.
 */
export function applyDeltaInPlace(frame: Uint8Array, delta: Uint8Array): void {
  validateDelta(delta, frame.length);
  let p = 0;
  const len = delta.length;
  for (let i = 0; i < len; ) {
    const b = delta[i++]!;
    if (b === 0) {
      p += delta[i]! | (delta[i + 1]! << 8);
      i += 2;
    } else {
      frame[p] = frame[p]! ^ b;
      p++;
    }
  }
}

/** Returns the frame that `delta` turns `prev` into (a new buffer; `prev` is not modified). */
export function applyDelta(prev: Uint8Array, delta: Uint8Array): Uint8Array {
  const next = prev.slice();
  applyDeltaInPlace(next, delta);
  return next;
}

/**
 * Stateful delta encoder for a source: remembers the previous frame and a scratch buffer, and
 * decides per frame whether a delta or a keyframe is smaller.
 */
export class DeltaEncoder {
  private prev: Uint8Array | undefined;
  private scratch: Uint8Array | undefined;

  /**
   * Encodes the next frame. Returns `{ keyframe: true, data: frame }` for the first frame, after
   * {@link reset}, on a size change, or when the delta would not be smaller than the raw frame.
   */
  encode(frame: Uint8Array): { keyframe: boolean; data: Uint8Array } {
    const prev = this.prev;
    this.prev = frame.slice();
    if (prev === undefined || prev.length !== frame.length) return { keyframe: true, data: frame };
    if (this.scratch === undefined || this.scratch.length < maxDeltaSize(frame.length)) {
      this.scratch = new Uint8Array(maxDeltaSize(frame.length));
    }
    const delta = encodeDelta(prev, frame, this.scratch);
    if (delta.length >= frame.length) return { keyframe: true, data: frame };
    return { keyframe: false, data: delta.slice() };
  }

  /** Forces the next frame to be a keyframe (e.g. after a receiver asked for one). */
  reset(): void {
    this.prev = undefined;
  }
}
