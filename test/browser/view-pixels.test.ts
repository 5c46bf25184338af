// /view/{channel} in real headless Chromium: a source page streams an animated canvas with
// publishCanvas (raw and delta), the receiver page shows it pixel for pixel on its frame-sized
// canvas, a click on the (CSS-scaled) receiver canvas reaches the source in frame coordinates,
// and a late-joining receiver shows the current frame at once. One browser, several pages.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { HttpRequest, HttpResponse } from '../../src/relay/transport.js';
import { relayHttpRoutes } from '../../src/relay/static-routes.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { source } from '../../src/client/index.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';

const W = 320;
const H = 240;

// Opaque pixels only: a canvas stores premultiplied alpha, so translucent ones may not round-trip.
const SOURCE_PAGE = `<!doctype html>
<html><body style="margin:0">
<canvas id="c" width="${W}" height="${H}"></canvas>
<script type="module">
  import { source } from '/sluice.js';
  const q = new URLSearchParams(location.search);
  const c = document.getElementById('c');
  const g = c.getContext('2d');
  let t = 0;
  const noise = q.get('pattern') === 'noise' ? g.createImageData(${W}, ${H}) : undefined;
  const paint = () => {
    t++;
    if (noise) {
      // Video-like: every pixel changes every frame.
      const d = noise.data;
      for (let i = 0; i < d.length; i++) d[i] = (i & 3) === 3 ? 255 : (Math.random() * 256) | 0;
      g.putImageData(noise, 0, 0);
      return;
    }
    g.fillStyle = 'rgb(' + ((t * 7) % 256) + ',40,90)';
    g.fillRect(0, 0, ${W}, ${H});
    g.fillStyle = '#fe0';
    g.fillRect((t * 5) % 300, 50, 20, 20);
    g.fillStyle = '#fff';
    g.font = '20px sans-serif';
    g.fillText('frame ' + t, 10, 200);
  };
  paint();
  const src = source('ws://' + location.host + '/source/' + q.get('ch'), { mode: 'pixel', backoff: { initialMs: 50, maxMs: 300 } });
  window.inputs = [];
  src.on('input', ({ event }) => window.inputs.push(event));
  window.pub = src.publishCanvas(c, { fps: 30, mode: q.get('mode') });
  const timer = setInterval(paint, 33);
  window.stopAnimation = () => clearInterval(timer);
  // Audio needs a user gesture: the test clicks this button.
  const tone = document.createElement('button');
  tone.id = 'tone';
  tone.textContent = 'tone';
  document.body.append(tone);
  tone.onclick = async () => {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.start();
    window.audioPub = await src.publishAudio(osc, { context: ctx, codec: q.get('codec') || 'pcm' });
  };
  window.frames = () => t;
</script>
</body></html>`;

/** FNV-1a over a canvas's RGBA (runs in the page). */
function canvasHash(id: string): string {
  const c = document.getElementById(id) as HTMLCanvasElement;
  if (!c || c.width === 0) return 'empty';
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
  return `${c.width}x${c.height}:${(h >>> 0).toString(16)}`;
}

/** Whether canvas `id` hashes to `want` (runs in the page; self-contained for waitForFunction). */
function canvasIs({ id, want }: { id: string; want: string }): boolean {
  const c = document.getElementById(id) as HTMLCanvasElement;
  if (!c || c.width === 0) return want === 'empty';
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
  return `${c.width}x${c.height}:${(h >>> 0).toString(16)}` === want;
}

/** The canvas's RGBA as base64 (runs in the page). */
function canvasBytes(id: string): string {
  const c = document.getElementById(id) as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
  return btoa(s);
}

describe('view page: pixels in the browser', () => {
  let relay: TestRelay;
  let browser: Browser;
  let http: string;
  const errors: string[] = [];

  const sourcePage = (req: HttpRequest, res: HttpResponse) => {
    if ((req.url ?? '').split('?')[0] !== '/test-source.html') return false;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(SOURCE_PAGE);
    return true;
  };

  before(async () => {
    relay = await startTestRelay({ httpRoutes: [sourcePage, ...relayHttpRoutes()] });
    http = relay.url.replace('ws:', 'http:');
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
    await relay.close();
  });

  async function open(path: string, viewport = { width: 900, height: 500 }): Promise<Page> {
    const p = await browser.newPage({ viewport });
    p.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
    p.on('console', (m) => {
      if (m.location().url.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) errors.push(`${path}: ${m.text()}`);
    });
    await p.goto(`${http}${path}`);
    return p;
  }

  /** Stops the animation and waits until the receiver shows exactly the source's picture. */
  async function settle(src: Page, view: Page): Promise<void> {
    await src.evaluate(() => (window as unknown as { stopAnimation(): void }).stopAnimation());
    const want = await src.evaluate(canvasHash, 'c');
    await view.waitForFunction(canvasIs, { id: 'screen', want }, { timeout: 15_000, polling: 100 }).catch(async () => {
      assert.fail(`receiver never matched the source: ${await view.evaluate(canvasHash, 'screen')} vs ${want}`);
    });
  }

  for (const mode of ['raw', 'delta'] as const) {
    it(`${mode}: the receiver's canvas equals the source's frame pixel for pixel; input arrives in frame coordinates`, { timeout: 40_000 }, async (t) => {
      const ch = `board-${mode}`;
      const src = await open(`/test-source.html?ch=${ch}&mode=${mode}`, { width: 400, height: 300 });
      const view = await open(`/view/${ch}`);
      t.after(async () => {
        await view.close();
        await src.close();
      });
      assert.equal(await view.evaluate(() => document.body.dataset.transport), 'websocket');
      // Let it animate for a while: several frames (deltas in delta mode) drawn.
      await view.waitForFunction(() => Number(document.body.dataset.frames) >= 10, undefined, { timeout: 15_000 });
      await settle(src, view);
      const a = Buffer.from(await src.evaluate(canvasBytes, 'c'), 'base64');
      const b = Buffer.from(await view.evaluate(canvasBytes, 'screen'), 'base64');
      assert.equal(b.length, W * H * 4, 'the receiver canvas holds the frame at its own size');
      assert.ok(a.equals(b), 'receiver canvas bytes differ from the source canvas');
      const stats = await src.evaluate(() => (window as unknown as { pub: { stats: Record<string, unknown> } }).pub.stats);
      assert.equal(stats.encoder, 'worker');
      if (mode === 'delta') assert.ok((stats.deltas as number) > 0, `no deltas sent: ${JSON.stringify(stats)}`);
      else assert.equal(stats.deltas, 0);

      // The canvas is scaled by CSS (500 px high for a 240-px frame): click frame pixel (100, 60).
      const box = await view.evaluate(() => {
        const r = document.getElementById('screen')!.getBoundingClientRect();
        return { left: r.left, top: r.top, width: r.width, height: r.height };
      });
      assert.ok(Math.abs(box.height - 500) < 1 && Math.abs(box.width - (500 * W) / H) < 1, `canvas shown at ${box.width}x${box.height}`);
      const s = box.height / H;
      await view.mouse.click(box.left + (100 + 0.5) * s, box.top + (60 + 0.5) * s);
      await src.waitForFunction(() => (window as unknown as { inputs: Array<{ input: string; phase: number }> }).inputs.some((e) => e.input === 'pointer' && e.phase === 2), undefined, { timeout: 10_000 });
      const pointer = await src.evaluate(() => (window as unknown as { inputs: Array<{ input: string }> }).inputs.filter((e) => e.input === 'pointer'));
      const down = pointer.find((e) => (e as unknown as { phase: number }).phase === 1) as unknown as { x: number; y: number; buttons: number };
      assert.deepEqual({ x: down.x, y: down.y, buttons: down.buttons }, { x: 100, y: 60, buttons: 1 });
      if (mode === 'delta') {
        // Keyboard, wheel (at the pointer's frame position) and the canvas's CSS size reach the source too.
        await view.keyboard.press('ArrowLeft');
        await view.mouse.move(box.left + (200 + 0.5) * s, box.top + (20 + 0.5) * s);
        await view.mouse.wheel(0, 120);
        type Ev = { input: string; key?: string; phase?: number; dy?: number; x?: number; y?: number; width?: number; height?: number };
        await src.waitForFunction(() => {
          const ins = (window as unknown as { inputs: Ev[] }).inputs;
          return ins.some((e) => e.input === 'key' && e.phase === 1) && ins.some((e) => e.input === 'scroll') && ins.some((e) => e.input === 'resize');
        }, undefined, { timeout: 10_000 });
        const ins = await src.evaluate(() => (window as unknown as { inputs: Ev[] }).inputs);
        const key = ins.find((e) => e.input === 'key')!;
        assert.deepEqual([key.key, key.phase], ['ArrowLeft', 0]);
        const scroll = ins.find((e) => e.input === 'scroll')!;
        assert.deepEqual([scroll.dy, scroll.x, scroll.y], [120, 200, 20]);
        const resize = ins.filter((e) => e.input === 'resize').at(-1)!;
        assert.deepEqual([resize.width, resize.height], [Math.round(box.width), Math.round(box.height)]);
      }

      // A receiver that joins now shows the current frame at once (the relay's catch-up).
      const late = await open(`/view/${ch}`, { width: 320, height: 200 });
      t.after(() => late.close());
      await late.waitForFunction(() => Number(document.body.dataset.frames) >= 1, undefined, { timeout: 10_000 });
      assert.equal(await late.evaluate(canvasHash, 'screen'), await src.evaluate(canvasHash, 'c'));
      assert.deepEqual(errors, []);
    });
  }

  it('auto: video-like content goes as compressed images, and once still the receiver is exact again', { timeout: 40_000 }, async (t) => {
    const src = await open('/test-source.html?ch=noise&mode=auto&pattern=noise', { width: 400, height: 300 });
    const view = await open('/view/noise');
    t.after(async () => {
      await view.close();
      await src.close();
    });
    // The receiver decodes (and draws) the lossy images too, not only the final keyframe.
    await view.waitForFunction(() => ((window as unknown as { sluiceView: { received: Record<string, number> } }).sluiceView.received['compressed-pixels'] ?? 0) >= 3, undefined, { timeout: 15_000 });
    // A decoded lossy image leaves the decoder waiting for an exact keyframe before any delta.
    await view.waitForFunction(() => {
      const p = (window as unknown as { sluiceView: { picture: { applied: number; needsKeyframe: boolean } } }).sluiceView.picture;
      return p.applied >= 3 && p.needsKeyframe;
    }, undefined, { timeout: 15_000 });
    await settle(src, view);
    const stats = await src.evaluate(() => (window as unknown as { pub: { stats: Record<string, number> } }).pub.stats);
    assert.ok(stats.compressed! > 0, `no compressed frames: ${JSON.stringify(stats)}`);
    assert.ok(stats.keyframes! >= 2, `no exact keyframe after the images: ${JSON.stringify(stats)}`);
    assert.deepEqual(errors, []);
  });

  it('after the relay restarts, source and receiver reconnect and the receiver redraws from the catch-up', { timeout: 40_000 }, async (t) => {
    let own = await startTestRelay({ httpRoutes: [sourcePage, ...relayHttpRoutes()] });
    const port = own.port;
    const base = own.url.replace('ws:', 'http:');
    t.after(() => own.close());
    const src = await browser.newPage({ viewport: { width: 400, height: 300 } });
    const view = await browser.newPage({ viewport: { width: 640, height: 480 } });
    t.after(async () => {
      await view.close();
      await src.close();
    });
    await src.goto(`${base}/test-source.html?ch=again&mode=delta`);
    await view.goto(`${base}/view/again`);
    await view.waitForFunction(() => Number(document.body.dataset.frames) >= 3, undefined, { timeout: 15_000 });
    await settle(src, view);
    await own.close();
    await view.waitForFunction(() => document.getElementById('conn')?.textContent !== 'live', undefined, { timeout: 10_000 });
    const before = Number(await view.evaluate(() => document.body.dataset.frames));
    // The picture changes while the relay is down: the receiver must end up with the new one.
    await src.evaluate(() => {
      const g = (document.getElementById('c') as HTMLCanvasElement).getContext('2d')!;
      g.fillStyle = '#0a8';
      g.fillRect(40, 40, 100, 80);
    });
    own = await startTestRelay({ port, httpRoutes: [sourcePage, ...relayHttpRoutes()] });
    await view.waitForFunction((n) => Number(document.body.dataset.frames) > n, before, { timeout: 15_000 });
    const want = await src.evaluate(canvasHash, 'c');
    await view.waitForFunction(canvasIs, { id: 'screen', want }, { timeout: 15_000, polling: 100 });
  });

  it('a state channel shows its state; audio frames offer a click-to-enable sound button', { timeout: 30_000 }, async (t) => {
    const src = source(`${relay.url}/source/mixed`, { initial: { title: 'hello', n: 1 } });
    t.after(() => src.close());
    await src.when.online();
    const res = await fetch(`${http}/view/mixed`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`connect-src 'self' ws://${new URL(http).host} wss://`));
    assert.equal((await fetch(`${http}/view`)).status, 200, '/view alone is channel default');
    const view = await open('/view/mixed');
    t.after(() => view.close());
    await view.waitForFunction(() => document.getElementById('state')?.textContent?.includes('"title": "hello"') === true && !document.getElementById('state')!.hidden, undefined, { timeout: 10_000 });
    src.state.n = 2;
    await view.waitForFunction(() => document.getElementById('state')?.textContent?.includes('"n": 2') === true, undefined, { timeout: 10_000 });
    // 20 ms of a 440 Hz tone per frame, sent until the page has seen a few.
    const samples = new Float32Array(960).map((_, i) => Math.sin((2 * Math.PI * 440 * i) / 48000) * 0.2);
    const timer = setInterval(() => src.publishFrame(encodeMessage({ kind: 'audio-pcm', sampleRate: 48000, channels: 1, samples, timestamp: Date.now() >>> 0 })), 20);
    t.after(() => clearInterval(timer));
    await view.waitForFunction(() => Number(document.body.dataset.audio) >= 5 && !document.getElementById('sound')!.hidden, undefined, { timeout: 10_000 });
    await view.click('#sound');
    await view.waitForFunction(() => {
      const a = (window as unknown as { sluiceView: { audio: { enabled: boolean; stats: { played: number } } } }).sluiceView.audio;
      return a.enabled && a.stats.played >= 5;
    }, undefined, { timeout: 10_000 });
    assert.equal(await view.isHidden('#sound'), true);
    assert.deepEqual(errors, []);
  });

  it('publishAudio streams an AudioNode from a page; the view page plays it', { timeout: 30_000 }, async (t) => {
    const src = await open('/test-source.html?ch=tone&mode=delta', { width: 400, height: 300 });
    const view = await open('/view/tone');
    t.after(async () => {
      await view.close();
      await src.close();
    });
    await view.waitForFunction(() => Number(document.body.dataset.frames) >= 1, undefined, { timeout: 15_000 });
    await src.click('#tone');
    await src.waitForFunction(() => 'audioPub' in window, undefined, { timeout: 15_000 });
    await view.waitForFunction(() => Number(document.body.dataset.audio) >= 10, undefined, { timeout: 15_000 });
    await view.click('#sound');
    await view.waitForFunction(() => (window as unknown as { sluiceView: { audio: { stats: { played: number } } } }).sluiceView.audio.stats.played >= 10, undefined, { timeout: 10_000 });
    const sent = await src.evaluate(() => (window as unknown as { audioPub: { frames: number; codec: string } }).audioPub);
    assert.equal(sent.codec, 'pcm');
    assert.ok(sent.frames >= 10);
    assert.deepEqual(errors, []);
  });
});
