// The limits pictures get on both ends: a PictureDecoder never allocates past maxPixels (raw
// frames, and images however big their frame header or their own header says they are), the
// image-size reader agrees with real WebP/JPEG/PNG made by Chromium, and publishPixels refuses a
// picture it cannot send with a typed error instead of getting the source closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { source } from '../../src/client/index.js';
import { InvalidPictureError } from '../../src/client/errors.js';
import { MAX_PICTURE_PIXELS, PictureDecoder, imageSize } from '../../src/client/picture-decoder.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';

describe('picture limits', () => {
  it('PictureDecoder drops raw pictures and decoded images over maxPixels without allocating them', async () => {
    const dec = new PictureDecoder({ maxPixels: 100, decodeImage: (_d, w, h) => Promise.resolve({ width: w, height: h, rgba: new Uint8ClampedArray(w * h * 4) }) });
    assert.equal(dec.apply({ kind: 'pixels', width: 10, height: 10, data: new Uint8Array(400) }), true);
    assert.equal(dec.apply({ kind: 'pixels', width: 11, height: 10, data: new Uint8Array(440) }), false);
    assert.equal(await dec.apply({ kind: 'compressed-pixels', width: 20, height: 20, data: new Uint8Array(10) }), false);
    assert.deepEqual([dec.width, dec.height, dec.rgba.length, dec.dropped], [10, 10, 400, 2]);
    // A custom decoder whose RGBA does not match its size is refused too.
    const liar = new PictureDecoder({ decodeImage: () => Promise.resolve({ width: 4, height: 4, rgba: new Uint8ClampedArray(3) }) });
    assert.equal(await liar.apply({ kind: 'compressed-pixels', width: 4, height: 4, data: new Uint8Array(10) }), false);
    assert.equal(MAX_PICTURE_PIXELS, 4096 * 4096);
  });

  it('imageSize reads real WebP (lossy, lossless), JPEG and PNG headers from Chromium; undefined for garbage', { timeout: 30_000 }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const images = await page.evaluate(async () => {
        const c = new OffscreenCanvas(301, 203);
        const g = c.getContext('2d')!;
        g.fillStyle = '#3a6';
        g.fillRect(0, 0, 301, 203);
        g.fillStyle = '#f00';
        g.fillRect(40, 30, 100, 50);
        const out: Record<string, number[]> = {};
        for (const [name, type, quality] of [['webp', 'image/webp', 0.8], ['webp-lossless', 'image/webp', 1], ['jpeg', 'image/jpeg', 0.9], ['png', 'image/png', 1]] as const) {
          const blob = await c.convertToBlob({ type, quality });
          if (blob.type === type) out[name] = [...new Uint8Array(await blob.arrayBuffer())];
        }
        return out;
      });
      assert.ok(images.jpeg && images.png && images.webp, `Chromium made ${Object.keys(images).join(', ')}`);
      for (const [name, bytes] of Object.entries(images)) assert.deepEqual(imageSize(new Uint8Array(bytes)), { width: 301, height: 203 }, name);
    } finally {
      await browser.close();
    }
    assert.equal(imageSize(new Uint8Array(100).fill(0xab)), undefined);
    assert.equal(imageSize(new Uint8Array([0x89, 0x50, 0x4e, 0x47])), undefined, 'a truncated PNG');
  });

  it('publishPixels throws InvalidPictureError for a bad size or buffer; the source stays live and publishes after', { timeout: 20_000 }, async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/limits`, { mode: 'pixel' });
    t.after(() => src.close());
    await src.when.online();
    const bad: Array<[number, number, number]> = [[10, 10, 399], [10, 10, 401], [0, 0, 0], [0, 10, 0], [2.5, 2, 20], [70000, 1, 280000], [NaN, 1, 4], [-1, -1, 4]];
    for (const [w, h, n] of bad) {
      assert.throws(() => src.publishPixels(w, h, new Uint8Array(n)), (e: unknown) => e instanceof InvalidPictureError && e.code === 'client/invalid-picture', `${w}×${h} with ${n} bytes`);
    }
    assert.equal(src.publishPixels(2, 2, new Uint8Array(16).fill(255)), true);
    assert.equal(src.connectionState, 'live');
  });
});
