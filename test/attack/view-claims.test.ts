// The claims of docs/client.md "Pixels, audio and input", checked as a demanding user would:
// frames published before the source is online are not lost, pictures stay exact through
// deltas and size changes, a bad call does not turn into a reconnect storm, and clicks map to
// frame pixels under letterboxing (real Chromium on /view, a Node source).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { source } from '../../src/client/index.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

/** A deterministic picture: a gradient plus a w×h-specific marker, opaque. */
function picture(w: number, h: number, seed: number): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      d[i] = (x * 7 + seed) & 255;
      d[i + 1] = (y * 13 + seed * 3) & 255;
      d[i + 2] = (x ^ y ^ seed) & 255;
      d[i + 3] = 255;
    }
  }
  return d;
}

/** The relay's current picture of `ch` as {width, height, rgba}. */
function relayPicture(relay: TestRelay, ch: string): { width: number; height: number; rgba: Uint8Array } | undefined {
  const p = (relay.channels.get(ch)?.cache as unknown as { picture?: { width: number; height: number; rgba: Uint8Array } } | undefined)?.picture;
  return p;
}

describe('attack: pixels claims of docs/client.md', () => {
  let relay: TestRelay;
  let browser: Browser;
  let http: string;
  before(async () => {
    relay = await startTestRelay();
    http = relay.url.replace('ws:', 'http:');
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
    await relay.close();
  });

  it('publishPixels before the source is online is not lost: the newest picture arrives once welcomed', async (t) => {
    const src = source(`${relay.url}/source/early`, { mode: 'pixel' });
    t.after(() => src.close());
    assert.equal(src.publishPixels(8, 8, picture(8, 8, 1)), false);
    assert.equal(src.publishPixels(8, 8, picture(8, 8, 2)), false, 'still offline');
    await src.when.online();
    await until(() => relayPicture(relay, 'early') !== undefined, 5000, 'the picture');
    assert.ok(Buffer.from(relayPicture(relay, 'early')!.rgba).equals(picture(8, 8, 2)), 'the newest picture, exactly');
  });

  // FINDING (medium): Source#publishPixels decides keyframe vs delta by byte length only
  // (DeltaEncoder), so a size change that keeps w×h (a rotation: 640×480 → 480×640, 4×2 → 2×4)
  // is sent as a DeltaPixels of the new size. The relay refuses it (no base picture of that size,
  // Error 4400), the encoder resets, but nothing is resent: receivers keep the old, wrong-shaped
  // picture until the app happens to publish again.
  it('publishPixels: a rotation (same byte count, new width and height) reaches the relay and receivers', async (t) => {
    const src = source(`${relay.url}/source/rotate`, { mode: 'pixel' });
    t.after(() => src.close());
    src.on('error', () => {});
    await src.when.online();
    // A dark UI with a small marker: landscape, then the same UI in portrait (few bytes differ).
    const landscape = new Uint8Array(64 * 32 * 4);
    const portrait = new Uint8Array(32 * 64 * 4);
    for (let i = 3; i < landscape.length; i += 4) landscape[i] = portrait[i] = 255;
    portrait.fill(200, 0, 64);
    src.publishPixels(64, 32, landscape);
    await until(() => relayPicture(relay, 'rotate')?.width === 64, 5000, 'the landscape picture');
    src.publishPixels(32, 64, portrait);
    await until(() => relayPicture(relay, 'rotate')?.width === 32, 3000, 'the portrait picture').catch(() => {});
    const p = relayPicture(relay, 'rotate')!;
    assert.deepEqual([p.width, p.height], [32, 64], `the relay still holds ${p.width}×${p.height} after the source published 32×64`);
    assert.ok(Buffer.from(p.rgba).equals(portrait));
  });

  // FINDING (low-medium): publishPixels does not check rgba.length === width*height*4. The frame
  // goes out, the relay refuses it and closes the source with 4400, which the SDK does not retry:
  // one bad call silently ends the whole source (state, logs, RPC) instead of throwing.
  it('publishPixels with a buffer of the wrong length throws, and the source stays live', { timeout: 20_000 }, async (t) => {
    const src = source(`${relay.url}/source/badlen`, { mode: 'pixel' });
    t.after(() => src.close());
    src.on('error', () => {});
    await src.when.online();
    let threw = false;
    try {
      src.publishPixels(10, 10, new Uint8Array(399));
    } catch {
      threw = true;
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(threw && src.connectionState === 'live', `publishPixels(10, 10, 399 bytes) ${threw ? 'threw' : 'did not throw'}; the source is now "${src.connectionState}"`);
  });

  async function viewPage(ch: string, viewport: { width: number; height: number }, query = ''): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${http}/view/${ch}${query}`);
    return { page, errors };
  }

  /** The view canvas's RGBA, base64 (runs in the page). */
  const canvasBytes = () => {
    const c = document.getElementById('screen') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
    return `${c.width}x${c.height}:${btoa(s)}`;
  };

  it('a Node publishPixels stream (keyframe then deltas, then a new size) is pixel-exact on /view after settling', { timeout: 40_000 }, async (t) => {
    const src = source(`${relay.url}/source/exact`, { mode: 'pixel' });
    t.after(() => src.close());
    await src.when.online();
    const { page, errors } = await viewPage('exact', { width: 500, height: 400 });
    t.after(() => page.close());
    let pic = picture(96, 64, 0);
    src.publishPixels(96, 64, pic);
    await page.waitForFunction(() => Number(document.body.dataset.frames) >= 1, undefined, { timeout: 15_000 });
    // 30 small changes: deltas.
    for (let k = 1; k <= 30; k++) {
      pic = pic.slice();
      for (let i = 0; i < 40; i++) pic[((k * 997 + i * 131) % (96 * 64)) * 4] = (k * 17 + i) & 255;
      src.publishPixels(96, 64, pic);
      await new Promise((r) => setTimeout(r, 10));
    }
    const want = `96x64:${Buffer.from(pic).toString('base64')}`;
    await page.waitForFunction((w) => {
      const c = document.getElementById('screen') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let s = '';
      for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
      return `${c.width}x${c.height}:${btoa(s)}` === w;
    }, want, { timeout: 15_000, polling: 100 }).catch(async () => assert.fail(`not exact after deltas: ${(await page.evaluate(canvasBytes)).slice(0, 40)}`));
    // A real size change (different byte count) is a keyframe: exact too.
    const big = picture(120, 90, 3);
    src.publishPixels(120, 90, big);
    await page.waitForFunction((w) => {
      const c = document.getElementById('screen') as HTMLCanvasElement;
      return c.width === 120 && c.height === 90 && c.getContext('2d')!.getImageData(0, 0, 120, 90).data.every((v, i) => v === w[i]);
    }, [...big], { timeout: 15_000, polling: 100 });
    assert.deepEqual(errors, []);
  });

  it('clicks map to frame pixels under letterboxing, at the edges, and not at all over the bars', { timeout: 40_000 }, async (t) => {
    const src = source(`${relay.url}/source/clicks`, { mode: 'pixel' });
    t.after(() => src.close());
    const inputs: Array<{ input: string; phase?: number; x?: number; y?: number }> = [];
    src.on('input', ({ event }) => inputs.push(event as unknown as { input: string; phase?: number; x?: number; y?: number }));
    await src.when.online();
    src.publishPixels(320, 240, picture(320, 240, 4));
    // A tall, narrow window: the 4:3 picture is letterboxed above and below.
    const { page, errors } = await viewPage('clicks', { width: 400, height: 900 });
    t.after(() => page.close());
    await page.waitForFunction(() => Number(document.body.dataset.frames) >= 1, undefined, { timeout: 15_000 });
    const box = await page.evaluate(() => {
      const r = document.getElementById('screen')!.getBoundingClientRect();
      return { left: r.left, top: r.top, width: r.width, height: r.height };
    });
    const s = box.width / 320;
    assert.ok(Math.abs(box.height - 240 * s) < 1, `aspect kept: ${box.width}x${box.height}`);
    const clickAt = async (fx: number, fy: number) => {
      const n = inputs.length;
      await page.mouse.click(box.left + (fx + 0.5) * s, box.top + (fy + 0.5) * s);
      await until(() => inputs.slice(n).some((e) => e.input === 'pointer' && e.phase === 2), 10_000, `the click at ${fx},${fy}`);
      const down = inputs.slice(n).find((e) => e.input === 'pointer' && e.phase === 1)!;
      return [down.x, down.y];
    };
    assert.deepEqual(await clickAt(0, 0), [0, 0]);
    assert.deepEqual(await clickAt(319, 239), [319, 239]);
    assert.deepEqual(await clickAt(160, 120), [160, 120]);
    // Over the letterbox bar (above the picture): nothing is sent.
    const n = inputs.length;
    await page.mouse.click(box.left + box.width / 2, Math.max(1, box.top / 2));
    await clickAt(10, 10);
    assert.equal(inputs.slice(n).filter((e) => e.input === 'pointer' && e.phase === 1).length, 1, 'a click on the bar sent a pointer-down');
    // The window changes shape (now wide): the mapping follows.
    await page.setViewportSize({ width: 1000, height: 300 });
    await page.waitForFunction(() => Math.abs(document.getElementById('screen')!.getBoundingClientRect().height - 300) < 1, undefined, { timeout: 10_000 });
    const box2 = await page.evaluate(() => {
      const r = document.getElementById('screen')!.getBoundingClientRect();
      return { left: r.left, top: r.top, width: r.width, height: r.height };
    });
    const s2 = box2.height / 240;
    const m = inputs.length;
    await page.mouse.click(box2.left + (250 + 0.5) * s2, box2.top + (30 + 0.5) * s2);
    await until(() => inputs.slice(m).some((e) => e.input === 'pointer' && e.phase === 2), 10_000, 'the click after resize');
    const down = inputs.slice(m).find((e) => e.input === 'pointer' && e.phase === 1)!;
    assert.deepEqual([down.x, down.y], [250, 30]);
    assert.deepEqual(errors, []);
  });
});
