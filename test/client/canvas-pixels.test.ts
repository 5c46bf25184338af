// The pure parts of pixels in the browser, run in Node: the canvas encoder's per-frame choices
// (raw, delta, compressed, auto) and the PictureDecoder rebuilding the exact picture from them;
// mapping a click over a letterboxed, CSS-scaled canvas to frame pixels.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CanvasFrameEncoder } from '../../src/client/canvas-encoder.js';
import type { CanvasMode } from '../../src/client/canvas-encoder.js';
import { mapToFrame } from '../../src/client/canvas-input.js';
import { PictureDecoder, isPictureMessage } from '../../src/client/picture-decoder.js';
import { decodeMessage } from '../../src/protocol/message.js';
import { rng } from '../support/rng.js';

const W = 64;
const H = 48;

function ui(t: number): Uint8Array {
  // Mostly static: a background, and a 6×6 square that moves.
  const img = new Uint8Array(W * H * 4);
  for (let i = 0; i < img.length; i += 4) img.set([30, 40, 50, 255], i);
  for (let y = 10; y < 16; y++) for (let x = t % (W - 6); x < (t % (W - 6)) + 6; x++) img.set([250, 220, 0, 255], (y * W + x) * 4);
  return img;
}

function noise(seed: number): Uint8Array {
  const r = rng(seed);
  const img = new Uint8Array(W * H * 4);
  for (let i = 0; i < img.length; i++) img[i] = i % 4 === 3 ? 255 : Math.floor(r() * 256);
  return img;
}

/** A stand-in for WebP: a fixed-size "image" that decodes to a mid-grey picture (lossy). */
const FAKE_IMAGE = new Uint8Array([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, ...new Array<number>(500).fill(7)]);
const compress = () => Promise.resolve(FAKE_IMAGE);
const decodeImage = (_d: Uint8Array, w: number, h: number) => Promise.resolve({ width: w, height: h, rgba: new Uint8ClampedArray(w * h * 4).fill(128) });

async function run(mode: CanvasMode, frames: Uint8Array[]): Promise<{ kinds: string[]; decoder: PictureDecoder }> {
  const enc = new CanvasFrameEncoder({ mode });
  const decoder = new PictureDecoder({ decodeImage });
  const kinds: string[] = [];
  let seq = 0;
  for (const rgba of frames) {
    const out = await enc.encode({ width: W, height: H, rgba: rgba.slice(), timestamp: 1000 + seq * 33, seq: ++seq, compress });
    kinds.push(out.kind);
    const m = decodeMessage(out.frame);
    assert.ok(isPictureMessage(m));
    assert.equal(await decoder.apply(m), true);
  }
  return { kinds, decoder };
}

describe('canvas encoder and picture decoder', () => {
  it('raw: every frame a keyframe; the decoder holds the last one exactly', async () => {
    const frames = [ui(0), ui(1), ui(2)];
    const { kinds, decoder } = await run('raw', frames);
    assert.deepEqual(kinds, ['keyframe', 'keyframe', 'keyframe']);
    assert.deepEqual(new Uint8Array(decoder.rgba), frames[2]);
  });

  it('delta: one keyframe then deltas; exact after every frame; a requested keyframe comes next', async () => {
    const enc = new CanvasFrameEncoder({ mode: 'delta' });
    const dec = new PictureDecoder();
    const kinds: string[] = [];
    for (let t = 0; t < 6; t++) {
      if (t === 4) enc.requestKeyframe();
      const out = await enc.encode({ width: W, height: H, rgba: ui(t), timestamp: t, seq: t });
      kinds.push(out.kind);
      if (out.kind === 'delta') assert.ok(out.frame.length < (W * H * 4) / 10, `delta of ${out.frame.length} bytes`);
      void dec.apply(decodeMessage(out.frame) as never);
      assert.deepEqual(new Uint8Array(dec.rgba), ui(t));
    }
    assert.deepEqual(kinds, ['keyframe', 'delta', 'delta', 'delta', 'keyframe', 'delta']);
  });

  it('auto: deltas while little changes, images while everything does, an exact keyframe once it settles', async () => {
    const frames = [ui(0), ui(1), noise(1), noise(2), noise(3), ui(4), ui(4), ui(4), ui(5)];
    const { kinds, decoder } = await run('auto', frames);
    // ui(4) arrives (much changed: an image), then holds still for two frames: exact again.
    assert.deepEqual(kinds, ['keyframe', 'delta', 'compressed', 'compressed', 'compressed', 'compressed', 'compressed', 'keyframe', 'delta']);
    assert.deepEqual(new Uint8Array(decoder.rgba), ui(5));
  });

  it('the decoder waits for a keyframe: a delta without a base (or after a lossy picture) is dropped and reported once', async () => {
    const enc = new CanvasFrameEncoder({ mode: 'delta' });
    const a = await enc.encode({ width: W, height: H, rgba: ui(0), timestamp: 0, seq: 1 });
    const b = await enc.encode({ width: W, height: H, rgba: ui(1), timestamp: 0, seq: 2 });
    const c = await enc.encode({ width: W, height: H, rgba: ui(2), timestamp: 0, seq: 3 });
    let asked = 0;
    const dec = new PictureDecoder({ onNeedKeyframe: () => asked++, decodeImage });
    assert.equal(dec.apply(decodeMessage(b.frame) as never), false);
    assert.equal(dec.apply(decodeMessage(c.frame) as never), false);
    assert.equal(asked, 1);
    assert.equal(dec.apply(decodeMessage(a.frame) as never), true);
    assert.equal(dec.needsKeyframe, false);
    assert.equal(dec.apply(decodeMessage(b.frame) as never), true);
    assert.deepEqual(new Uint8Array(dec.rgba), ui(1));
    // A size change also needs a keyframe.
    assert.equal(dec.apply({ kind: 'delta-pixels', width: W + 1, height: H, data: new Uint8Array([0, 1, 0]) }), false);
    assert.equal(asked, 2);
  });

  it('an image still decoding when a newer picture arrived is discarded', async () => {
    let release!: () => void;
    const slow = (_d: Uint8Array, w: number, h: number) => new Promise<{ width: number; height: number; rgba: Uint8ClampedArray }>((r) => (release = () => r({ width: w, height: h, rgba: new Uint8ClampedArray(w * h * 4).fill(9) })));
    const dec = new PictureDecoder({ decodeImage: slow });
    const pending = dec.apply({ kind: 'compressed-pixels', width: W, height: H, data: FAKE_IMAGE });
    assert.equal(dec.apply({ kind: 'pixels', width: W, height: H, data: ui(3) }), true);
    release();
    assert.equal(await pending, false);
    assert.deepEqual(new Uint8Array(dec.rgba), ui(3));
  });

  it('an empty Keyframe clears the picture', () => {
    const dec = new PictureDecoder();
    void dec.apply({ kind: 'pixels', width: W, height: H, data: ui(0) });
    assert.equal(dec.hasPicture, true);
    assert.equal(dec.apply({ kind: 'keyframe', width: 0, height: 0, data: new Uint8Array(0) }), true);
    assert.equal(dec.hasPicture, false);
  });

  it('mapToFrame: CSS scaling and letterboxing map back to frame pixels', () => {
    // A 320×240 frame shown in an 800×400 box: scale 400/240, bars of (800 - 533.3)/2 each side.
    const box = { left: 10, top: 20, width: 800, height: 400 };
    const s = 400 / 240;
    const ox = (800 - 320 * s) / 2;
    assert.deepEqual(mapToFrame(10 + ox + 100.5 * s, 20 + 60.5 * s, box, 320, 240), { x: 100, y: 60, inside: true });
    assert.equal(mapToFrame(10 + ox / 2, 100, box, 320, 240).inside, false);
    assert.deepEqual(mapToFrame(10 + 799, 20 + 399, box, 320, 240, 'fill'), { x: 319, y: 239, inside: true });
  });
});
