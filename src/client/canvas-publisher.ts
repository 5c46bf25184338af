/**
 * Streams a canvas from the browser: captures it at a fixed rate, has the encoder Worker turn
 * each capture into one protocol frame, and sends it through the source. Pacing never queues:
 * while the encoder is busy or the socket still holds more than `maxBufferedBytes`, ticks are
 * skipped, so what goes out next is always the newest picture.
 */
import { CloseCode } from '../protocol/close-codes.js';
import type { CanvasEncoderSettings, CanvasMode, EncodedKind } from './canvas-encoder.js';
import { CanvasEncoderHost } from './canvas-worker.js';
import type { EncoderReply, EncoderRequest } from './canvas-worker.js';
import { RelayError } from './errors.js';
import type { ClientError } from './errors.js';

/** What a canvas publisher needs from a source (a {@link Source} has all of it). */
export interface CanvasSink {
  publishFrame(frame: Uint8Array): boolean;
  readonly bufferedAmount: number;
  readonly connectionState: string;
  on(event: 'open', fn: () => void): () => void;
  on(event: 'error', fn: (e: ClientError) => void): () => void;
  /** A receiver needs a full picture next (a WebRTC peer joined or fell behind). */
  on(event: 'keyframe-wanted', fn: () => void): () => void;
}

export interface PublishCanvasOptions extends Partial<Omit<CanvasEncoderSettings, 'mode'>> {
  /** Frames per second to capture. Default 30. */
  fps?: number;
  /** See {@link CanvasMode}. Default `delta`. */
  mode?: CanvasMode;
  /** Skip captures while the socket holds more than this many unsent bytes. Default 1 MiB. */
  maxBufferedBytes?: number;
  /**
   * Where the encoder runs: `true` (default) a Worker loaded from `sluice-worker.js` next to the
   * SDK module (the relay serves it), a URL for another place, `false` the main thread.
   */
  worker?: boolean | string | URL;
}

/** Counters of a canvas stream (for overlays and benchmarks). */
export interface CanvasStats {
  /** Captures taken. */
  captured: number;
  /** Frames handed to `emit` and accepted. */
  sent: number;
  /** Ticks skipped because the encoder or the socket was behind (or the source offline). */
  skipped: number;
  /** Bytes of the frames sent. */
  bytes: number;
  keyframes: number;
  deltas: number;
  compressed: number;
  /** Encoder failures (each makes the next frame a keyframe). */
  failures: number;
  /** Time the last frame took in the encoder: pixel readback and encoding (ms). */
  lastReadMs: number;
  lastEncodeMs: number;
  /** Where encoding runs: `worker` or `main-thread`. */
  encoder: 'worker' | 'main-thread';
}

type Capturable = HTMLCanvasElement | OffscreenCanvas;

/**
 * A running canvas stream. `emit(frame)` is the single point where encoded frames leave; replace
 * `send` to route them elsewhere (a WebRTC data channel, a test).
 */
export class CanvasPublisher {
  readonly stats: CanvasStats = { captured: 0, sent: 0, skipped: 0, bytes: 0, keyframes: 0, deltas: 0, compressed: 0, failures: 0, lastReadMs: 0, lastEncodeMs: 0, encoder: 'worker' };
  /** Where `emit` sends a frame; returns false when it could not. Default: the source. */
  send: (frame: Uint8Array) => boolean;
  private readonly settings: CanvasEncoderSettings;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly offs: Array<() => void> = [];
  private worker: Worker | undefined;
  private local: CanvasEncoderHost | undefined;
  private busy = false;
  private stopped = false;
  private seq = 0;
  private nextId = 0;
  private keyframeWanted = false;

  constructor(
    private readonly sink: CanvasSink,
    private readonly canvas: Capturable,
    private readonly options: PublishCanvasOptions = {},
  ) {
    const { fps: _fps, maxBufferedBytes: _max, worker: _worker, mode, ...rest } = options;
    this.settings = { ...rest, mode: mode ?? 'delta' };
    this.send = (frame) => this.sink.publishFrame(frame);
    this.startEncoder();
    const fps = Math.max(0.1, Math.min(240, options.fps ?? 30));
    this.timer = setInterval(() => this.tick(), 1000 / fps);
    // A (re)connected source gets the current picture at once, exactly.
    this.offs.push(sink.on('open', () => {
      this.requestKeyframe();
      this.tick();
    }));
    // A WebRTC peer joined or skipped a frame: its chain restarts with a keyframe.
    this.offs.push(sink.on('keyframe-wanted', () => this.requestKeyframe()));
    // The relay refused a delta (no base picture there): resend exactly.
    this.offs.push(sink.on('error', (e) => {
      if (e instanceof RelayError && e.closeCode === CloseCode.BadFrame) this.requestKeyframe();
    }));
    if (sink.connectionState === 'live') queueMicrotask(() => this.tick());
  }

  /** The next frame is an exact keyframe (e.g. a receiver on a lossy path lost its picture). */
  requestKeyframe(): void {
    this.keyframeWanted = true;
  }

  /** Changes the mode (or quality…) of the next frames; the next frame is a keyframe. */
  configure(settings: Partial<CanvasEncoderSettings>): void {
    Object.assign(this.settings, settings);
    this.post({ type: 'settings', settings: { ...this.settings } });
    this.requestKeyframe();
  }

  /** The one point where frames leave. Returns whether it was sent. */
  emit(frame: Uint8Array, kind: EncodedKind = 'keyframe'): boolean {
    const ok = this.send(frame);
    if (!ok) {
      // Nobody got it: receivers' base is now unknown.
      this.requestKeyframe();
      return false;
    }
    this.stats.sent++;
    this.stats.bytes += frame.length;
    if (kind === 'keyframe') this.stats.keyframes++;
    else if (kind === 'delta') this.stats.deltas++;
    else this.stats.compressed++;
    return true;
  }

  /** Stops capturing (frames already sent stay sent; the relay keeps the current picture). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const off of this.offs) off();
    this.worker?.terminate();
    this.worker = undefined;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private tick(): void {
    if (this.stopped) return;
    if (this.busy || this.sink.connectionState !== 'live' || this.sink.bufferedAmount > (this.options.maxBufferedBytes ?? 1 << 20)) {
      this.stats.skipped++;
      return;
    }
    if (this.canvas.width === 0 || this.canvas.height === 0) return;
    this.busy = true;
    void this.capture().catch((e: unknown) => this.failed(String((e as Error)?.message ?? e)));
  }

  private async capture(): Promise<void> {
    const timestamp = Date.now() >>> 0;
    const id = ++this.nextId;
    const seq = (this.seq = (this.seq + 1) & 0xffff);
    this.stats.captured++;
    if (this.keyframeWanted) {
      this.keyframeWanted = false;
      this.post({ type: 'keyframe' });
    }
    if (typeof createImageBitmap === 'function') {
      const bitmap = await createImageBitmap(this.canvas);
      if (this.stopped) return bitmap.close();
      this.post({ type: 'frame', id, bitmap, timestamp, seq }, [bitmap]);
    } else {
      const ctx = (this.canvas as HTMLCanvasElement).getContext('2d');
      if (!ctx) throw new Error('cannot read this canvas: no createImageBitmap and no 2d context');
      const d = ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
      this.post({ type: 'frame', id, rgba: new Uint8Array(d.data.buffer), width: d.width, height: d.height, timestamp, seq }, [d.data.buffer]);
    }
  }

  private onReply(r: EncoderReply): void {
    this.busy = false;
    if (this.stopped) return;
    if (r.type === 'failed') return this.failed(r.message);
    this.stats.lastReadMs = r.readMs;
    this.stats.lastEncodeMs = r.encodeMs;
    this.emit(r.frame, r.kind);
  }

  private failed(message: string): void {
    this.busy = false;
    this.stats.failures++;
    this.requestKeyframe();
    if (this.stats.failures <= 3) console.warn(`sluice publishCanvas: frame not encoded: ${message}`);
  }

  // ------------------------------------------------------------------ encoder placement

  private startEncoder(): void {
    const w = this.options.worker ?? true;
    if (w === false || typeof Worker === 'undefined') return this.useMainThread();
    const url = w === true ? defaultWorkerUrl() : new URL(String(w), location.href);
    let worker: Worker;
    try {
      worker = new Worker(url, { type: 'module' });
    } catch {
      // A cross-origin worker script: start it through a same-origin blob that imports it (CORS).
      try {
        const blob = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' }));
        worker = new Worker(blob, { type: 'module' });
      } catch {
        return this.useMainThread();
      }
    }
    this.worker = worker;
    let answered = false;
    worker.onmessage = (ev: MessageEvent<EncoderReply>) => {
      answered = true;
      this.onReply(ev.data);
    };
    worker.onerror = (ev) => {
      ev.preventDefault?.();
      if (answered) return this.failed(`encoder worker error: ${ev.message}`);
      // The script did not load (not served, blocked by CSP): encode on the main thread instead.
      worker.terminate();
      this.worker = undefined;
      this.useMainThread();
      this.busy = false;
      this.requestKeyframe();
    };
    this.post({ type: 'settings', settings: { ...this.settings } });
  }

  private useMainThread(): void {
    this.stats.encoder = 'main-thread';
    this.local = new CanvasEncoderHost();
    void this.local.handle({ type: 'settings', settings: { ...this.settings } });
  }

  private post(req: EncoderRequest, transfer: Transferable[] = []): void {
    if (this.worker) {
      this.worker.postMessage(req, transfer);
      return;
    }
    const host = this.local!;
    void host.handle(req).then((r) => r && this.onReply(r));
  }
}

/** `sluice-worker.js` next to this module (the relay serves both from its root). */
function defaultWorkerUrl(): URL {
  return new URL('./sluice-worker.js', import.meta.url);
}

/**
 * Streams `canvas` into the channel of `sink` (a {@link Source}); see `Source#publishCanvas`.
 */
export function publishCanvas(sink: CanvasSink, canvas: Capturable, options: PublishCanvasOptions = {}): CanvasPublisher {
  return new CanvasPublisher(sink, canvas, options);
}
