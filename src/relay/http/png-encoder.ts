/**
 * Encodes console pictures as PNG on a worker thread of low priority, so a large noisy picture
 * costs the relay's event loop one copy of its pixels (a few milliseconds for 16 MiB) and, on a
 * busy machine, CPU only when the relay's own thread does not want it. On Linux the worker lowers
 * its own thread's priority (nice 19) through /proc/thread-self; elsewhere it runs at normal
 * priority. If the worker cannot start, encoding falls back to the asynchronous in-process
 * encoder ({@link encodePng}: deflate on libuv's thread pool).
 *
 * @example
 * const enc = new PngEncoder();
 * const png = await enc.encode(2, 1, new Uint8Array([255, 0, 0, 255, 0, 0, 255, 255]));
 * enc.close();
 */
import { Worker } from 'node:worker_threads';
import { encodePng } from './png.js';

// Plain JavaScript (eval'd), so it runs the same from src/ under tsx and from dist/.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) require('node:os').setPriority(tid, 19);
} catch {}
const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; TABLE[n] = c >>> 0; }
const crc32 = zlib.crc32 || ((bytes, crc = 0) => { let c = (crc ^ 0xffffffff) >>> 0; for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; });
function chunk(type, data) {
  const head = Buffer.alloc(8); head.writeUInt32BE(data.length, 0); head.write(type, 4, 'latin1');
  const tail = Buffer.alloc(4); tail.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return [head, data, tail];
}
parentPort.on('message', ({ id, width, height, rgba }) => {
  try {
    const px = new Uint8Array(rgba);
    const stride = width * 4;
    const raw = Buffer.alloc((stride + 1) * height);
    for (let y = 0; y < height; y++) raw.set(px.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
    const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4); ihdr[8] = 8; ihdr[9] = 6;
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunk('IHDR', ihdr), ...chunk('IDAT', zlib.deflateSync(raw, { level: 1 })), ...chunk('IEND', Buffer.alloc(0))]);
    const out = new Uint8Array(png.length); out.set(png);
    parentPort.postMessage({ id, png: out.buffer }, [out.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

interface Pending {
  resolve(png: Buffer): void;
  reject(e: Error): void;
}

/** Thrown when the encoder worker fails or is closed while encoding. */
export class PngEncodeError extends Error {
  readonly code = 'console/png-encode';
}

export class PngEncoder {
  private worker: Worker | undefined;
  private failed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Encodes `width × height` RGBA pixels as PNG (a copy of them goes to the worker). */
  encode(width: number, height: number, rgba: Uint8Array): Promise<Buffer> {
    const w = this.start();
    if (w === undefined) return encodePng(width, height, rgba);
    // A real copy (Buffer#slice would share memory): its buffer is transferred, i.e. detached here.
    const copy = new Uint8Array(rgba.subarray(0, width * height * 4));
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, width, height, rgba: copy.buffer }, [copy.buffer]);
    });
  }

  private start(): Worker | undefined {
    if (this.worker !== undefined || this.failed) return this.worker;
    let w: Worker;
    try {
      w = new Worker(WORKER_SOURCE, { eval: true });
    } catch {
      this.failed = true;
      return undefined;
    }
    w.unref();
    w.on('message', (m: { id: number; png?: ArrayBuffer; error?: string }) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.png !== undefined) p.resolve(Buffer.from(m.png));
      else p.reject(new PngEncodeError(m.error ?? 'encode failed'));
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new PngEncodeError(why));
      this.pending.clear();
    };
    w.on('error', (e) => fail(`png worker failed: ${e.message}`));
    w.on('exit', () => fail('png worker exited'));
    this.worker = w;
    return w;
  }

  /** Stops the worker (pending encodes are refused). */
  close(): void {
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate();
  }
}
