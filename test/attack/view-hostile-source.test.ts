// A hostile SOURCE against browser receivers on /view/{channel} (real headless Chromium): raw
// frames whose sizes disagree, 65535-wide pictures, zero-length frames, compressed garbage, an
// image whose header claims 16384×16384, and audio with absurd channel counts and sample rates.
// The page must not throw, freeze or allocate gigabytes, and must go on drawing good frames.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { encodeAudioPrefix } from '../../src/protocol/audio.js';
import { encodeDelta, maxDeltaSize } from '../../src/protocol/delta-codec.js';
import { Flag, FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { launchChromium } from '../support/browser.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';

/** A valid 1×1 red PNG (67 bytes). */
const PNG_1X1 = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154780163f8cfc0f01f00050001ff7be9beef0000000049454e44ae426082', 'hex');
/** A valid XOR+RLE delta between two different w×h pictures. */
function validDelta(w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h * 4);
  const b = a.map((_, i) => (i % 7 === 0 ? 255 : 0));
  return encodeDelta(a, b, new Uint8Array(maxDeltaSize(a.length))).slice();
}

const raw = (type: number, w: number, h: number, payload: Uint8Array = new Uint8Array(0), flags: number = Flag.Keyframe) => encodeFrame({ type, flags, width: w, height: h, timestamp: Date.now() >>> 0 }, payload);
const solid = (w: number, h: number, rgba: [number, number, number, number]) => {
  const d = new Uint8Array(w * h * 4);
  for (let i = 0; i < d.length; i += 4) d.set(rgba, i);
  return raw(FrameType.Pixels, w, h, d);
};
/** AudioPcm/AudioCompressed with any prefix values (the encoder would refuse some). */
function audio(type: number, sampleRate: number, channels: number, data: Uint8Array): Uint8Array {
  const [b] = encodeAudioPrefix(sampleRate, channels, data.length);
  b.set(data, 8);
  return encodeFrame({ type, flags: 0, timestamp: Date.now() >>> 0 }, b);
}

type ViewWindow = { sluiceView: { picture: { width: number; height: number; rgba: { length: number }; applied: number; dropped: number }; received: Record<string, number>; audio: { enabled: boolean; stats: { received: number; played: number; dropped: number } } } };

describe('attack: hostile source vs the view page', () => {
  let relay: TestRelay;
  let browser: Browser;
  let http: string;

  before(async () => {
    relay = await startTestRelay({ maxPayload: 32 * 1024 * 1024 });
    http = relay.url.replace('ws:', 'http:');
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
    await relay.close();
  });

  async function open(ch: string): Promise<{ page: Page; errors: string[]; src: TestPeer }> {
    const errors: string[] = [];
    const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
    await src.next('welcome');
    const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('crash', () => errors.push('the page crashed'));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(`console: ${m.text()}`);
    });
    await page.goto(`${http}/view/${ch}`);
    await page.waitForFunction(() => document.getElementById('conn')?.textContent?.startsWith('live') === true, undefined, { timeout: 15_000 });
    return { page, errors, src };
  }

  /** Sends a good 4×4 frame and waits until the page draws it: the page is alive and drawing. */
  async function stillDraws(page: Page, src: TestPeer, rgba: [number, number, number, number]): Promise<void> {
    src.sendRaw(solid(4, 4, rgba));
    await page.waitForFunction(
      (want) => {
        const c = document.getElementById('screen') as HTMLCanvasElement;
        if (c.width !== 4 || c.height !== 4) return false;
        const d = c.getContext('2d')!.getImageData(0, 0, 1, 1).data;
        return d[0] === want[0] && d[1] === want[1] && d[2] === want[2];
      },
      rgba,
      { timeout: 15_000, polling: 50 },
    );
  }

  it('malformed and extreme picture frames: no page error, the next good frame is drawn exactly', { timeout: 60_000 }, async (t) => {
    const { page, errors, src } = await open('px-hostile');
    t.after(async () => {
      src.close();
      await page.close();
    });
    await stillDraws(page, src, [10, 20, 30, 255]);
    const frames: Array<[string, Uint8Array]> = [
      ['Pixels 65535×64 (over the canvas size limit)', raw(FrameType.Pixels, 65535, 64, new Uint8Array(65535 * 64 * 4))],
      ['Pixels 1×65535', raw(FrameType.Pixels, 1, 65535, new Uint8Array(65535 * 4))],
      ['Pixels 0×0 empty', raw(FrameType.Pixels, 0, 0)],
      // (A Pixels frame with no payload but a non-zero size is refused by the relay: it closes the source.)
      ['Keyframe empty (reset)', raw(FrameType.Keyframe, 0, 0)],
      ['DeltaPixels of another size than the picture (refused by the relay, the source is told)', raw(FrameType.DeltaPixels, 8, 8, validDelta(8, 8), 0)],
      ['CompressedPixels garbage', raw(FrameType.CompressedPixels, 64, 64, new Uint8Array(1000).fill(0xab), Flag.Keyframe | Flag.Compressed)],
      ['CompressedPixels empty', raw(FrameType.CompressedPixels, 64, 64, new Uint8Array(0), Flag.Keyframe | Flag.Compressed)],
      ['CompressedPixels truncated PNG', raw(FrameType.CompressedPixels, 1, 1, PNG_1X1.subarray(0, 40), Flag.Keyframe | Flag.Compressed)],
      ['CompressedPixels 65535×65535 header', raw(FrameType.CompressedPixels, 65535, 65535, PNG_1X1, Flag.Keyframe | Flag.Compressed)],
    ];
    let n = 0;
    for (const [what, f] of frames) {
      src.sendRaw(f);
      n++;
      await stillDraws(page, src, [n * 20, 100, 50, 255]).catch(async (e: Error) => {
        const info = await page.evaluate(() => {
          const v = (window as unknown as ViewWindow).sluiceView;
          const c = document.getElementById('screen') as HTMLCanvasElement;
          return { w: v.picture.width, h: v.picture.height, applied: v.picture.applied, dropped: v.picture.dropped, received: v.received, canvas: [c.width, c.height], frames: document.body.dataset.frames };
        });
        assert.fail(`after ${what}: the page no longer draws good frames (${e.message.split('\n')[0]}; ${JSON.stringify(info)}; source close ${src.closeCode})`);
      });
    }
    assert.equal(src.closeCode, undefined);
    assert.deepEqual(errors, []);
  });

  // FINDING (medium): the view decodes a CompressedPixels image at the size its frame HEADER
  // claims (`width || bitmap.width`), not the image's own. A 67-byte 1×1 PNG whose header says
  // 8192×8192 makes every viewer allocate 256 MiB for the scratch canvas read-back, 256 MiB for
  // the decoder's picture and more for the on-screen canvas; with 16384×16384 the viewer held
  // 1 GiB in the decoder alone and took ~30 s to get there. Each such frame costs a few bytes.
  it('an image whose frame header claims 8192×8192 does not make the viewer allocate hundreds of megabytes', { timeout: 60_000 }, async (t) => {
    const { page, errors, src } = await open('px-bomb');
    t.after(async () => {
      src.close();
      await page.close().catch(() => {});
    });
    await stillDraws(page, src, [10, 20, 30, 255]);
    src.sendRaw(raw(FrameType.CompressedPixels, 8192, 8192, PNG_1X1, Flag.Keyframe | Flag.Compressed));
    await page
      .waitForFunction(() => {
        const w = window as unknown as ViewWindow;
        return w.sluiceView.picture.applied + w.sluiceView.picture.dropped >= 2;
      }, undefined, { timeout: 30_000, polling: 100 })
      .catch(() => errors.push('the page did not finish decoding the image within 30 s'));
    const held = await page.evaluate(() => (window as unknown as ViewWindow).sluiceView.picture.rgba.length).catch(() => -1);
    assert.ok(held >= 0 && held <= 64 * 1024 * 1024, `the viewer's picture holds ${(held / 2 ** 20).toFixed(0)} MiB after a 67-byte image`);
    assert.deepEqual(errors, []);
  });

  // FINDING (low-medium): AudioPlayer passes the frame's channel count to createBuffer (Web Audio
  // allows 1–32) and to AudioDecoder.configure unchecked: a source sending AudioPcm with 255
  // channels (or Opus with 0 channels / 0 Hz) throws in the page for every frame once sound is on.
  it('audio with absurd channel counts and sample rates is dropped without page errors', { timeout: 60_000 }, async (t) => {
    const { page, errors, src } = await open('au-hostile');
    t.after(async () => {
      src.close();
      await page.close();
    });
    const tone = new Float32Array(960).map((_, i) => Math.sin(i / 10) * 0.1);
    const good = () => encodeMessage({ kind: 'audio-pcm', sampleRate: 48000, channels: 1, samples: tone, timestamp: Date.now() >>> 0 });
    // Audio arrives, the page offers the sound button, the test clicks it (a user gesture).
    const timer = setInterval(() => src.sendRaw(good()), 20);
    t.after(() => clearInterval(timer));
    await page.waitForFunction(() => !document.getElementById('sound')!.hidden, undefined, { timeout: 15_000 });
    await page.click('#sound');
    await page.waitForFunction(() => (window as unknown as ViewWindow).sluiceView.audio.stats.played >= 3, undefined, { timeout: 15_000 });
    clearInterval(timer);
    const pcm = new Uint8Array(4 * 960);
    const bad: Array<[string, Uint8Array]> = [
      ['PCM 255 channels', audio(FrameType.AudioPcm, 48000, 255, pcm)],
      ['PCM 33 channels', audio(FrameType.AudioPcm, 48000, 33, pcm)],
      ['PCM 0 Hz', audio(FrameType.AudioPcm, 0, 1, pcm)],
      ['PCM 4 GHz', audio(FrameType.AudioPcm, 0xffffffff, 1, pcm)],
      ['PCM no samples', audio(FrameType.AudioPcm, 48000, 1, new Uint8Array(0))],
      ['PCM NaN samples', audio(FrameType.AudioPcm, 48000, 1, new Uint8Array(new Float32Array(960).fill(NaN).buffer))],
      ['Opus 0 channels', audio(FrameType.AudioCompressed, 48000, 0, new Uint8Array([0xf8, 0xff, 0xfe]))],
      ['Opus 0 Hz', audio(FrameType.AudioCompressed, 0, 1, new Uint8Array([0xf8, 0xff, 0xfe]))],
      ['Opus 255 channels', audio(FrameType.AudioCompressed, 48000, 255, new Uint8Array([0xf8, 0xff, 0xfe]))],
      ['Opus garbage', audio(FrameType.AudioCompressed, 48000, 2, new Uint8Array(500).fill(0x41))],
    ];
    const before = await page.evaluate(() => (window as unknown as ViewWindow).sluiceView.audio.stats.received);
    for (const [, f] of bad) src.sendRaw(f);
    await page.waitForFunction((n) => (window as unknown as ViewWindow).sluiceView.audio.stats.received >= n, before + bad.length, { timeout: 15_000 });
    // Good audio still plays afterwards.
    const played = await page.evaluate(() => (window as unknown as ViewWindow).sluiceView.audio.stats.played);
    const again = setInterval(() => src.sendRaw(good()), 20);
    t.after(() => clearInterval(again));
    await page.waitForFunction((n) => (window as unknown as ViewWindow).sluiceView.audio.stats.played >= n + 3, played, { timeout: 15_000 });
    clearInterval(again);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(errors, []);
  });

  // FINDING (medium): for a state channel the view page re-serializes and re-renders the WHOLE
  // state (JSON.stringify(state, null, 2) into a <pre>) on every change. A source that holds a
  // 2 MB state and changes one counter 30 times a second — a few bytes per diff — freezes every
  // viewer's page (measured: 14 timer ticks in 3 s instead of ~300, gaps of 1.7 s).
  it('a big state changing often does not freeze the view page', { timeout: 60_000 }, async (t) => {
    const src = await TestPeer.connect(`${relay.url}/source/st-big`);
    t.after(() => src.close());
    await src.next('welcome');
    // Built from diffs under the default --max-json-payload (1 MiB each): 2,000 fields, ~2 MB.
    src.send({ kind: 'signal-sync', state: {} });
    for (let part = 0; part < 4; part++) {
      const diff: Record<string, unknown> = {};
      for (let i = part * 500; i < (part + 1) * 500; i++) diff[`f${i}`] = { text: 'y'.repeat(1000), n: i };
      src.send({ kind: 'signal-diff', diff: diff as never });
    }
    const page = await browser.newPage();
    t.after(() => page.close());
    await page.goto(`${http}/view/st-big`);
    await page.waitForFunction(() => (document.getElementById('state')?.textContent?.length ?? 0) > 1_000_000, undefined, { timeout: 30_000 });
    // A 10 ms timer in the page measures how often its main thread gets to run.
    await page.evaluate(() => {
      const w = window as unknown as { gaps: number[] };
      w.gaps = [];
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        w.gaps.push(now - last);
        last = now;
      }, 10);
    });
    let n = 0;
    const timer = setInterval(() => src.send({ kind: 'signal-diff', diff: { counter: ++n } }), 33);
    t.after(() => clearInterval(timer));
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(timer);
    const gaps = await page.evaluate(() => (window as unknown as { gaps: number[] }).gaps);
    const worst = Math.max(...gaps);
    assert.ok(gaps.length >= 100 && worst < 500, `the page ran its 10 ms timer ${gaps.length} times in 3 s (worst gap ${worst.toFixed(0)} ms) while a 2 MB state changed 30 times a second`);
  });
});
