/**
 * The encoder side of a canvas stream: takes captured pictures (ImageBitmaps, or RGBA when the
 * page read them itself), reads their pixels, encodes them with a {@link CanvasFrameEncoder} and
 * answers with complete protocol frames. Runs inside the encoder Worker (see
 * canvas-worker-entry.ts), or on the main thread where no Worker can be started.
 */
import { CanvasFrameEncoder } from './canvas-encoder.js';
import type { CanvasEncoderSettings, EncodedKind } from './canvas-encoder.js';

/** Main thread → encoder. */
export type EncoderRequest =
  | { type: 'settings'; settings: CanvasEncoderSettings }
  | { type: 'keyframe' }
  | { type: 'frame'; id: number; bitmap: ImageBitmap; timestamp: number; seq: number }
  | { type: 'frame'; id: number; rgba: Uint8Array; width: number; height: number; timestamp: number; seq: number };

/** Encoder → main thread. */
export type EncoderReply =
  | { type: 'encoded'; id: number; frame: Uint8Array; kind: EncodedKind; encodeMs: number; readMs: number }
  | { type: 'failed'; id: number; message: string };

export class CanvasEncoderHost {
  private readonly encoder = new CanvasFrameEncoder({ mode: 'delta' });
  private canvas: OffscreenCanvas | undefined;
  private ctx: OffscreenCanvasRenderingContext2D | undefined;

  /** Handles one request; frame requests answer with a reply (settings/keyframe with undefined). */
  async handle(req: EncoderRequest): Promise<EncoderReply | undefined> {
    if (req.type === 'settings') {
      this.encoder.settings = req.settings;
      return undefined;
    }
    if (req.type === 'keyframe') {
      this.encoder.requestKeyframe();
      return undefined;
    }
    try {
      const t0 = performance.now();
      let width: number;
      let height: number;
      let rgba: Uint8Array;
      let compress: ((type: string, quality: number) => Promise<Uint8Array>) | undefined;
      if ('bitmap' in req) {
        width = req.bitmap.width;
        height = req.bitmap.height;
        const ctx = this.context(width, height);
        ctx.clearRect(0, 0, width, height);
        ctx.drawImage(req.bitmap, 0, 0);
        req.bitmap.close();
        // Compressed mode never diffs: it needs no readback of the pixels.
        if (this.encoder.settings.mode === 'compressed') rgba = new Uint8Array(width * height * 4);
        else {
          const d = ctx.getImageData(0, 0, width, height).data;
          rgba = new Uint8Array(d.buffer, d.byteOffset, d.length);
        }
        const canvas = this.canvas!;
        compress = async (type, quality) => new Uint8Array(await (await canvas.convertToBlob({ type, quality })).arrayBuffer());
      } else {
        width = req.width;
        height = req.height;
        rgba = req.rgba;
        if (typeof OffscreenCanvas !== 'undefined') {
          compress = async (type, quality) => {
            const ctx = this.context(width, height);
            ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer as ArrayBuffer, rgba.byteOffset, rgba.length), width, height), 0, 0);
            return new Uint8Array(await (await this.canvas!.convertToBlob({ type, quality })).arrayBuffer());
          };
        }
      }
      const readMs = performance.now() - t0;
      const out = await this.encoder.encode({ width, height, rgba, timestamp: req.timestamp, seq: req.seq, ...(compress ? { compress } : {}) });
      return { type: 'encoded', id: req.id, frame: out.frame, kind: out.kind, encodeMs: out.encodeMs, readMs };
    } catch (e) {
      if ('bitmap' in req) req.bitmap.close();
      // The receivers' base is unknown now: start again from an exact picture.
      this.encoder.requestKeyframe();
      return { type: 'failed', id: req.id, message: (e as Error)?.message ?? String(e) };
    }
  }

  private context(width: number, height: number): OffscreenCanvasRenderingContext2D {
    if (!this.canvas || !this.ctx) {
      this.canvas = new OffscreenCanvas(width, height);
      const ctx = this.canvas.getContext('2d', { willReadFrequently: true, alpha: true });
      if (!ctx) throw new Error('no 2d context for OffscreenCanvas');
      this.ctx = ctx;
    }
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    return this.ctx;
  }
}
