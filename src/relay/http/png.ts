/**
 * A minimal PNG encoder (RGBA, 8 bits, no filtering) so the console can show a channel's current
 * picture. Encoding is asynchronous: the deflate runs on libuv's thread pool and the CRC is
 * zlib's native one (Node ≥ 20.15) — or, on older Node, a table CRC that yields to the event loop
 * every 256 KiB — so a 4096×4096 noisy picture never stalls the relay's peers.
 */
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';

const deflate = promisify(zlib.deflate);
/** Native CRC-32 where Node has it (added in 20.15 / 22.2). */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
/** Bytes hashed between two yields to the event loop by the fallback CRC. */
const CRC_SLICE = 256 * 1024;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continues a CRC-32 (`crc` is the value so far, 0 to start) over `bytes` with the table. */
export function crc32Table(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `head` followed by `body`, without joining them. */
async function crc32(head: Uint8Array, body: Uint8Array): Promise<number> {
  if (nativeCrc32) return nativeCrc32(body, nativeCrc32(head));
  let crc = crc32Table(head);
  for (let i = 0; i < body.length; i += CRC_SLICE) {
    crc = crc32Table(body.subarray(i, i + CRC_SLICE), crc);
    if (i + CRC_SLICE < body.length) await new Promise((r) => setImmediate(r));
  }
  return crc;
}

/** A PNG chunk as its pieces (length and type, data, CRC), so the data is not copied. */
async function chunk(type: string, data: Uint8Array): Promise<Uint8Array[]> {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(await crc32(head.subarray(4), data), 0);
  return [head, data, tail];
}

/**
 * Encodes `width × height` RGBA pixels (row-major, 4 bytes each) as a PNG file, off the event
 * loop but for memory copies (a few milliseconds for 16 MiB).
 *
 * @example
 * const png = await encodePng(2, 1, new Uint8Array([255, 0, 0, 255, 0, 0, 255, 255]));
 */
export async function encodePng(width: number, height: number, rgba: Uint8Array): Promise<Buffer> {
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  // Level 1: a live picture is shown once and replaced; speed matters more than size. Large
  // output chunks keep the main-thread callbacks few.
  const idat = await deflate(raw, { level: 1, chunkSize: 1024 * 1024 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...(await chunk('IHDR', ihdr)), ...(await chunk('IDAT', idat)), ...(await chunk('IEND', new Uint8Array(0)))]);
}

/** The image type of encoded bytes (CompressedPixels payloads), from their signature. */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP') return 'image/webp';
  return undefined;
}
