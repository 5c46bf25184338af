/**
 * The per-frame decision of a canvas source: which frame to send for the next captured picture
 * (raw Pixels, an XOR+RLE DeltaPixels, or a WebP/JPEG CompressedPixels), built as a complete
 * protocol frame. Pure apart from the optional image compressor, so it runs in the encoder Worker
 * and, where Workers are unavailable, on the main thread.
 */
import { Flag, FrameType } from '../protocol/frame-codes.js';
import { encodeDelta, maxDeltaSize } from '../protocol/delta-codec.js';
import { HEADER_SIZE, writeHeader } from '../protocol/header.js';

/**
 * How a canvas is sent:
 * - `raw`: every frame is a full RGBA picture (w×h×4 bytes; exact, no CPU, most bytes);
 * - `delta`: a keyframe, then XOR+RLE deltas against the previous frame (exact; tiny when little changes);
 * - `compressed`: every frame a WebP/JPEG image (lossy; bounded size whatever changes);
 * - `auto`: deltas while they are small, compressed images while much changes, an exact
 *   keyframe once the picture settles again.
 */
export type CanvasMode = 'raw' | 'delta' | 'compressed' | 'auto';

export interface CanvasEncoderSettings {
  mode: CanvasMode;
  /** Image type for compressed frames. Default `image/webp`. */
  imageType?: 'image/webp' | 'image/jpeg' | 'image/png';
  /** Quality of compressed frames, 0–1. Default 0.8. */
  quality?: number;
  /** `auto`: a delta at most this fraction of the raw size is sent without trying compression. Default 0.05. */
  deltaRatio?: number;
  /** `delta`/`auto`: send an exact keyframe at least this often (ms); 0 = only on request. Default 0. */
  keyframeIntervalMs?: number;
}

/** One captured picture to encode. `rgba` is owned by the encoder from now on (not copied). */
export interface CanvasFrameInput {
  width: number;
  height: number;
  rgba: Uint8Array;
  /** Capture time, ms (u32 on the wire): receivers measure frame age with it. */
  timestamp: number;
  seq: number;
  /** Compresses the same picture to `imageType` at `quality` (a Worker uses its OffscreenCanvas). */
  compress?: (type: string, quality: number) => Promise<Uint8Array>;
}

export type EncodedKind = 'keyframe' | 'delta' | 'compressed';

/** A complete protocol frame and what it is. */
export interface EncodedFrame {
  frame: Uint8Array;
  kind: EncodedKind;
  /** Time spent encoding (ms). */
  encodeMs: number;
}

/** The state of one canvas stream's encoding (one instance per stream). */
export class CanvasFrameEncoder {
  /** What every receiver holds exactly (the last raw picture sent), or undefined. */
  private base: Uint8Array | undefined;
  private baseW = 0;
  private baseH = 0;
  /** The previous captured picture, whatever was sent for it (auto: measures motion). */
  private last: Uint8Array | undefined;
  private scratch: Uint8Array | undefined;
  private forceKey = true;
  private lastKeyAt = 0;
  /** auto: consecutive quiet frames seen while sending compressed images. */
  private quiet = 0;

  constructor(public settings: CanvasEncoderSettings) {}

  /** The next frame is an exact keyframe (a receiver or the relay lost the base picture). */
  requestKeyframe(): void {
    this.forceKey = true;
  }

  async encode(input: CanvasFrameInput): Promise<EncodedFrame> {
    const t0 = now();
    const { width, height, rgba } = input;
    const mode = this.settings.mode;
    const sizeChanged = this.base === undefined || width !== this.baseW || height !== this.baseH || this.base.length !== rgba.length;
    const interval = this.settings.keyframeIntervalMs ?? 0;
    const due = interval > 0 && input.timestamp - this.lastKeyAt >= interval;

    if (mode === 'raw') return this.keyframe(input, t0);
    if (mode === 'compressed') return this.compressed(input, t0);

    if (mode === 'delta') {
      if (this.forceKey || sizeChanged || due) return this.keyframe(input, t0);
      const delta = this.delta(this.base!, rgba);
      if (delta.length >= rgba.length) return this.keyframe(input, t0);
      return this.deltaFrame(input, delta, t0);
    }

    // auto
    const motion = this.last !== undefined && this.last.length === rgba.length ? this.delta(this.last, rgba).length / rgba.length : 1;
    this.last = rgba;
    if (this.forceKey || due) return this.keyframe(input, t0);
    const ratio = this.settings.deltaRatio ?? 0.05;
    if (!sizeChanged) {
      const delta = this.delta(this.base!, rgba);
      if (delta.length <= rgba.length * ratio || !input.compress) return delta.length >= rgba.length ? this.keyframe(input, t0) : this.deltaFrame(input, delta, t0);
      const image = await this.compressBytes(input);
      if (delta.length <= image.length) return this.deltaFrame(input, delta, t0);
      return this.compressedFrame(input, image, t0);
    }
    // Showing lossy images: once the picture holds still for two frames, send it exactly.
    this.quiet = motion <= ratio ? this.quiet + 1 : 0;
    if (this.quiet >= 2 || !input.compress) return this.keyframe(input, t0);
    return this.compressed(input, t0);
  }

  private delta(prev: Uint8Array, cur: Uint8Array): Uint8Array {
    const need = maxDeltaSize(cur.length);
    if (this.scratch === undefined || this.scratch.length < need) this.scratch = new Uint8Array(need);
    return encodeDelta(prev, cur, this.scratch);
  }

  private keyframe(input: CanvasFrameInput, t0: number): EncodedFrame {
    this.setBase(input);
    this.forceKey = false;
    this.lastKeyAt = input.timestamp;
    this.quiet = 0;
    return { frame: frame(FrameType.Pixels, Flag.Keyframe, input, input.rgba), kind: 'keyframe', encodeMs: now() - t0 };
  }

  private deltaFrame(input: CanvasFrameInput, delta: Uint8Array, t0: number): EncodedFrame {
    const out = frame(FrameType.DeltaPixels, 0, input, delta);
    this.setBase(input);
    return { frame: out, kind: 'delta', encodeMs: now() - t0 };
  }

  private async compressed(input: CanvasFrameInput, t0: number): Promise<EncodedFrame> {
    if (!input.compress) throw new Error('compressed mode needs an image encoder (OffscreenCanvas.convertToBlob)');
    return this.compressedFrame(input, await this.compressBytes(input), t0);
  }

  private compressBytes(input: CanvasFrameInput): Promise<Uint8Array> {
    return input.compress!(this.settings.imageType ?? 'image/webp', this.settings.quality ?? 0.8);
  }

  private compressedFrame(input: CanvasFrameInput, image: Uint8Array, t0: number): EncodedFrame {
    // Receivers (and the relay) no longer hold an exact picture: no delta until the next keyframe.
    this.base = undefined;
    this.forceKey = false;
    return { frame: frame(FrameType.CompressedPixels, Flag.Keyframe | Flag.Compressed, input, image), kind: 'compressed', encodeMs: now() - t0 };
  }

  private setBase(input: CanvasFrameInput): void {
    // The input buffer is ours (see CanvasFrameInput): keeping it avoids copying the picture.
    this.base = input.rgba;
    this.baseW = input.width;
    this.baseH = input.height;
  }
}

function frame(type: number, flags: number, f: CanvasFrameInput, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  writeHeader(out, 0, { type, flags, seq: f.seq, timestamp: f.timestamp, width: f.width, height: f.height, length: payload.length });
  out.set(payload, HEADER_SIZE);
  return out;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
