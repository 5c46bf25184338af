/**
 * Turns a channel's picture frames (Keyframe, Pixels, DeltaPixels, CompressedPixels) into one
 * RGBA picture. Pure state, no transport and no drawing: the view page feeds it whatever path
 * the frames came by, and a second instance can follow a second path (e.g. WebRTC) on its own.
 */
import { applyDeltaInPlace } from '../protocol/delta-codec.js';
import type { Message } from '../protocol/message.js';

/** The picture frames a {@link PictureDecoder} understands. */
export type PictureMessage = Extract<Message, { kind: 'pixels' | 'keyframe' | 'delta-pixels' | 'compressed-pixels' }>;

/** True for the message kinds a {@link PictureDecoder} takes. */
export function isPictureMessage(m: Message): m is PictureMessage {
  return m.kind === 'pixels' || m.kind === 'keyframe' || m.kind === 'delta-pixels' || m.kind === 'compressed-pixels';
}

/**
 * Largest picture a {@link PictureDecoder} takes by default: 16 Mpx (4096×4096; 4K UHD is 8.3 Mpx),
 * 64 MiB of RGBA. A tiny compressed image can claim any size, so every viewer would otherwise
 * allocate whatever a source names.
 */
export const MAX_PICTURE_PIXELS = 4096 * 4096;

/**
 * Decodes an encoded image (WebP/JPEG/PNG bytes) into RGBA at the image's own size (the frame
 * header's `width`/`height` are only a claim); rejects images over `maxPixels`. The browser
 * default is {@link decodeImageBytes}.
 */
export type ImageBytesDecoder = (data: Uint8Array, width: number, height: number, maxPixels?: number) => Promise<{ width: number; height: number; rgba: Uint8ClampedArray }>;

export interface PictureDecoderOptions {
  /** Called when a frame could not be applied for want of a base picture (a delta with no keyframe). */
  onNeedKeyframe?: () => void;
  /** How CompressedPixels become RGBA. Default: `createImageBitmap` + an OffscreenCanvas. */
  decodeImage?: ImageBytesDecoder;
  /** Pictures with more pixels than this are dropped unallocated. Default {@link MAX_PICTURE_PIXELS}. */
  maxPixels?: number;
}

/**
 * The current picture of a channel, rebuilt from its frames.
 *
 * @example
 * ```ts
 * const pic = new PictureDecoder({ onNeedKeyframe: () => console.log('waiting for a keyframe') });
 * view.on('media', (m) => {
 *   if (!isPictureMessage(m)) return;
 *   const r = pic.apply(m);
 *   if (r === true) draw(pic);
 *   else if (r !== false) void r.then((changed) => changed && draw(pic));
 * });
 * function draw(p: PictureDecoder) {
 *   canvas.width = p.width; canvas.height = p.height;
 *   canvas.getContext('2d')!.putImageData(new ImageData(p.rgba, p.width, p.height), 0, 0);
 * }
 * ```
 */
export class PictureDecoder {
  width = 0;
  height = 0;
  /** The picture, `width × height × 4` bytes, updated in place (empty while there is none). */
  rgba: Uint8ClampedArray<ArrayBuffer> = new Uint8ClampedArray(0);
  /** Sender timestamp (ms, u32) of the frame the picture last changed with (the relay's catch-up keyframe carries its source frame's). */
  timestamp = 0;
  /** True while deltas cannot be applied: no picture yet, a size change, a lossy picture or a bad delta. */
  needsKeyframe = true;
  /** Frames that changed the picture. */
  applied = 0;
  /** Frames that could not be applied (deltas without a base, bad deltas, undecodable images). */
  dropped = 0;
  /** Milliseconds the last applied frame took to decode. */
  lastDecodeMs = 0;
  /** Bumped by every frame: an image still decoding when a newer frame arrived is discarded. */
  private generation = 0;

  constructor(private readonly options: PictureDecoderOptions = {}) {}

  /** True once there is a picture to show. */
  get hasPicture(): boolean {
    return this.width > 0 && this.height > 0 && this.rgba.length > 0;
  }

  /**
   * Applies one frame. Returns whether the picture changed: synchronously for raw pictures and
   * deltas, as a promise for CompressedPixels (images decode asynchronously).
   */
  apply(m: PictureMessage): boolean | Promise<boolean> {
    const gen = ++this.generation;
    const t0 = now();
    switch (m.kind) {
      case 'keyframe':
      case 'pixels': {
        if (m.data.length === 0) {
          if (m.kind === 'pixels') return false; // an empty Pixels frame carries nothing
          // An empty Keyframe: the channel has no picture any more.
          this.setSize(0, 0);
          this.needsKeyframe = true;
          this.timestamp = m.timestamp ?? 0;
          this.applied++;
          return true;
        }
        if (m.data.length !== m.width * m.height * 4 || m.width * m.height > this.maxPixels) return this.drop();
        this.setSize(m.width, m.height);
        this.rgba.set(m.data);
        this.needsKeyframe = false;
        return this.changed(m, t0);
      }
      case 'delta-pixels': {
        if (this.needsKeyframe || m.width !== this.width || m.height !== this.height) return this.drop();
        try {
          applyDeltaInPlace(new Uint8Array(this.rgba.buffer, this.rgba.byteOffset, this.rgba.length), m.data);
        } catch {
          // A malformed delta changed nothing (it is validated before it is applied).
          return this.drop();
        }
        return this.changed(m, t0);
      }
      case 'compressed-pixels': {
        const decode = this.options.decodeImage ?? decodeImageBytes;
        const timestamp = m.timestamp ?? 0;
        return decode(m.data, m.width, m.height, this.maxPixels).then(
          (img) => {
            if (gen !== this.generation) return false; // a newer frame won
            if (img.width * img.height > this.maxPixels || img.rgba.length !== img.width * img.height * 4) return this.drop();
            this.setSize(img.width, img.height);
            this.rgba.set(img.rgba);
            // A lossy picture is not what the source diffs against: deltas wait for a keyframe.
            this.needsKeyframe = true;
            this.timestamp = timestamp;
            this.applied++;
            this.lastDecodeMs = now() - t0;
            return true;
          },
          () => (gen === this.generation ? this.drop() : false),
        );
      }
    }
  }

  private get maxPixels(): number {
    return this.options.maxPixels ?? MAX_PICTURE_PIXELS;
  }

  /** Forgets the picture (e.g. when switching channels). */
  reset(): void {
    this.generation++;
    this.setSize(0, 0);
    this.needsKeyframe = true;
  }

  private setSize(width: number, height: number): void {
    if (width === this.width && height === this.height && this.rgba.length === width * height * 4) return;
    this.width = width;
    this.height = height;
    this.rgba = new Uint8ClampedArray(width * height * 4);
  }

  private changed(m: PictureMessage, t0: number): true {
    this.timestamp = m.timestamp ?? 0;
    this.applied++;
    this.lastDecodeMs = now() - t0;
    return true;
  }

  private drop(): false {
    this.dropped++;
    const was = this.needsKeyframe;
    this.needsKeyframe = true;
    // Said once per gap, not once per dropped delta.
    if (!was || this.dropped === 1) this.options.onNeedKeyframe?.();
    return false;
  }
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** The MIME type of WebP, JPEG or PNG bytes (by their signature). */
export function imageMimeType(data: Uint8Array): string {
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg';
  if (data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e && data[3] === 0x47) return 'image/png';
  if (data[0] === 0x52 && data[1] === 0x49 && data[8] === 0x57 && data[9] === 0x45) return 'image/webp';
  return 'application/octet-stream';
}

/**
 * Browser image decoding: `createImageBitmap` on a Blob, read back through an OffscreenCanvas, at
 * the image's own size. The frame header's size is not used: it is only a claim, and a 67-byte
 * PNG whose header said 8192×8192 would cost 256 MiB per read-back. Images over `maxPixels` (by
 * their own header where it can be read, else once decoded) are rejected.
 */
export async function decodeImageBytes(data: Uint8Array, _width: number, _height: number, maxPixels = MAX_PICTURE_PIXELS): Promise<{ width: number; height: number; rgba: Uint8ClampedArray }> {
  const g = globalThis as { createImageBitmap?: typeof createImageBitmap; OffscreenCanvas?: typeof OffscreenCanvas };
  if (!g.createImageBitmap || !g.OffscreenCanvas) throw new Error('no image decoder in this runtime (createImageBitmap/OffscreenCanvas)');
  const declared = imageSize(data);
  if (declared && declared.width * declared.height > maxPixels) throw new Error(`image of ${declared.width}×${declared.height} is over ${maxPixels} pixels`);
  const bitmap = await g.createImageBitmap(new Blob([data as Uint8Array<ArrayBuffer>], { type: imageMimeType(data) }));
  try {
    const w = bitmap.width;
    const h = bitmap.height;
    if (w === 0 || h === 0 || w * h > maxPixels) throw new Error(`image of ${w}×${h} is empty or over ${maxPixels} pixels`);
    const ctx = scratchContext(w, h);
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(bitmap, 0, 0, w, h);
    return { width: w, height: h, rgba: ctx.getImageData(0, 0, w, h).data };
  } finally {
    bitmap.close();
  }
}

let scratch: OffscreenCanvasRenderingContext2D | undefined;
function scratchContext(w: number, h: number): OffscreenCanvasRenderingContext2D {
  if (!scratch) {
    const c = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
    if (!c) throw new Error('no 2d context for OffscreenCanvas');
    scratch = c;
  }
  if (scratch.canvas.width !== w || scratch.canvas.height !== h) {
    scratch.canvas.width = w;
    scratch.canvas.height = h;
  }
  return scratch;
}

/**
 * The size a PNG, JPEG or WebP says it has, read from its own header without decoding (so an
 * image bomb is refused before the browser allocates it); undefined when it cannot be read.
 */
export function imageSize(d: Uint8Array): { width: number; height: number } | undefined {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const type = imageMimeType(d);
  if (type === 'image/png') return d.length >= 24 ? { width: v.getUint32(16), height: v.getUint32(20) } : undefined;
  if (type === 'image/webp' && d.length >= 30) {
    const chunk = String.fromCharCode(d[12]!, d[13]!, d[14]!, d[15]!);
    if (chunk === 'VP8X') return { width: 1 + (d[24]! | (d[25]! << 8) | (d[26]! << 16)), height: 1 + (d[27]! | (d[28]! << 8) | (d[29]! << 16)) };
    if (chunk === 'VP8L') {
      const b = v.getUint32(21, true);
      return { width: 1 + (b & 0x3fff), height: 1 + ((b >>> 14) & 0x3fff) };
    }
    if (chunk === 'VP8 ') return { width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
    return undefined;
  }
  if (type === 'image/jpeg') {
    // Segments up to the first SOFn (C0–CF except C4 DHT, C8 JPG, CC DAC): height, then width.
    for (let i = 2; i + 9 <= d.length && d[i] === 0xff; ) {
      const marker = d[i + 1]!;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: v.getUint16(i + 7), height: v.getUint16(i + 5) };
      i += 2 + v.getUint16(i + 2);
    }
  }
  return undefined;
}
