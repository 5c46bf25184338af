// /view/{channel}?webrtc=1 with a `source(…, { webrtc: true })` page streaming a canvas with
// publishCanvas, in real headless Chromium: the view draws from the WebRTC link (transport
// `webrtc`) and its canvas equals the source's pixel for pixel; once the link is healthy the view
// pauses the relay's media, so the relay stops sending it pictures (measured against a view with
// `pause=0`); a click reaches the source over the link in frame coordinates; when the link breaks
// the view resumes relay media and shows the source's current picture exactly (the relay's
// current picture comes first); with /signal refused it stays on `websocket` and still matches.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { HttpRequest, HttpResponse } from '../../src/relay/transport.js';
import type { RelayOptions } from '../../src/relay/server.js';
import { relayHttpRoutes } from '../../src/relay/static-routes.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';

const W = 160;
const H = 120;
const WAIT = { timeout: 15_000 };

const SOURCE_PAGE = `<!doctype html>
<html><body style="margin:0">
<canvas id="c" width="${W}" height="${H}"></canvas>
<script type="module">
  import { source } from '/sluice.js';
  const q = new URLSearchParams(location.search);
  const c = document.getElementById('c');
  const g = c.getContext('2d');
  let t = 0;
  const paint = () => {
    t++;
    g.fillStyle = 'rgb(' + ((t * 7) % 256) + ',40,90)';
    g.fillRect(0, 0, ${W}, ${H});
    g.fillStyle = '#fe0';
    g.fillRect((t * 5) % 140, 30, 20, 20);
  };
  paint();
  const src = source('ws://' + location.host + '/source/' + q.get('ch'), { mode: 'pixel', webrtc: true });
  window.src = src;
  window.inputs = [];
  src.on('input', ({ event, sender }) => window.inputs.push({ ...event, sender }));
  window.pub = src.publishCanvas(c, { fps: 30, mode: 'delta' });
  let timer = setInterval(paint, 33);
  window.stopAnimation = () => clearInterval(timer);
  window.paintOnce = () => paint();
</script>
</body></html>`;

function canvasHash(id: string): string {
  const c = document.getElementById(id) as HTMLCanvasElement;
  if (!c || c.width === 0) return 'empty';
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
  return `${c.width}x${c.height}:${(h >>> 0).toString(16)}`;
}

function canvasIs({ id, want }: { id: string; want: string }): boolean {
  const c = document.getElementById(id) as HTMLCanvasElement;
  if (!c || c.width === 0) return want === 'empty';
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
  return `${c.width}x${c.height}:${(h >>> 0).toString(16)}` === want;
}

const sourcePage = (req: HttpRequest, res: HttpResponse) => {
  if ((req.url ?? '').split('?')[0] !== '/rtc-source.html') return false;
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(SOURCE_PAGE);
  return true;
};

describe('view page over WebRTC (Chromium)', () => {
  let browser: Browser;
  const errors: string[] = [];
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
  });

  async function setup(ch: string, relayOptions: RelayOptions = {}): Promise<{ relay: TestRelay; src: Page; view: Page; open(path: string): Promise<Page>; close(): Promise<void> }> {
    const relay = await startTestRelay({ httpRoutes: [sourcePage, ...relayHttpRoutes()], ...relayOptions });
    const http = relay.url.replace('ws:', 'http:');
    const pages: Page[] = [];
    const open = async (path: string) => {
      const p = await browser.newPage({ viewport: { width: 640, height: 480 } });
      p.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
      p.on('console', (m) => {
        if (m.location().url.endsWith('/favicon.ico')) return;
        if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) errors.push(`${path}: ${m.text()}`);
      });
      await p.goto(`${http}${path}`);
      pages.push(p);
      return p;
    };
    const src = await open(`/rtc-source.html?ch=${ch}`);
    const view = await open(`/view/${ch}?webrtc=1`);
    return {
      relay,
      src,
      view,
      open,
      async close() {
        for (const p of pages) await p.close();
        await relay.close();
      },
    };
  }

  /** Stops the animation, waits until the view shows exactly the source's picture. */
  async function settle(src: Page, view: Page): Promise<void> {
    await src.evaluate(() => (window as unknown as { stopAnimation(): void }).stopAnimation());
    const want = await src.evaluate(canvasHash, 'c');
    await view.waitForFunction(canvasIs, { id: 'screen', want }, { ...WAIT, polling: 100 }).catch(async () => {
      const st = await src.evaluate(() => JSON.stringify((window as unknown as { pub: { stats: unknown } }).pub.stats));
      assert.fail(`view never matched the source: ${await view.evaluate(canvasHash, 'screen')} vs ${want} (view: ${await view.evaluate(() => document.body.dataset.frames)} frames drawn; source: ${st})`);
    });
  }

  /** What a view page got on its relay WebSocket so far: bytes, picture frames, and frames drawn from the link. */
  const relayStats = (p: Page) =>
    p.evaluate(() => {
      const v = (window as unknown as { sluiceView: { view: { bytes: number; pictures: number }; link: { stats: { frames: number } } } }).sluiceView;
      return { bytes: v.view.bytes, pictures: v.view.pictures, rtcFrames: v.link.stats.frames, at: performance.now() };
    });

  it('draws from the link pixel for pixel with relay media paused, sends clicks over it, and falls back to the relay picture when it breaks', { timeout: 90_000 }, async (t) => {
    const s = await setup('rtc-view');
    t.after(() => s.close());
    // The same view with the pause turned off: what the relay would send without it.
    const unpaused = await s.open('/view/rtc-view?webrtc=1&pause=0');
    for (const v of [s.view, unpaused]) await v.waitForFunction(() => document.body.dataset.transport === 'webrtc', undefined, WAIT);
    const framesAt = Number(await s.view.evaluate(() => document.body.dataset.frames));
    await s.view.waitForFunction((n) => Number(document.body.dataset.frames) >= n + 10, framesAt, WAIT);
    // Healthy for a second: the view pauses the relay's media; the relay sees it.
    await s.view.waitForFunction(() => document.body.dataset.relayMedia === 'paused', undefined, WAIT);
    assert.equal(await unpaused.evaluate(() => document.body.dataset.relayMedia), 'live');
    const receivers = () => [...s.relay.channels.get('rtc-view')!.receivers.values()];
    assert.deepEqual(receivers().map((r) => r.mediaPaused).sort(), [false, true]);

    // While the source animates, the paused view gets no picture frame from the relay.
    const a0 = await relayStats(s.view);
    const b0 = await relayStats(unpaused);
    await s.view.waitForFunction((n) => (window as unknown as { sluiceView: { link: { stats: { frames: number } } } }).sluiceView.link.stats.frames >= n + 30, a0.rtcFrames, WAIT);
    const a1 = await relayStats(s.view);
    const b1 = await relayStats(unpaused);
    const paused = { bytes: a1.bytes - a0.bytes, pictures: a1.pictures - a0.pictures, seconds: (a1.at - a0.at) / 1000 };
    const live = { bytes: b1.bytes - b0.bytes, pictures: b1.pictures - b0.pictures, seconds: (b1.at - b0.at) / 1000 };
    t.diagnostic(`relay → view while on WebRTC: paused ${paused.bytes} B / ${paused.pictures} pictures in ${paused.seconds.toFixed(2)} s; pause=0 ${live.bytes} B / ${live.pictures} pictures in ${live.seconds.toFixed(2)} s; link frames ${a1.rtcFrames - a0.rtcFrames}`);
    assert.equal(paused.pictures, 0, 'no relay picture frames while paused');
    assert.ok(live.pictures > 0, 'the unpaused view still gets the relay copy');
    assert.ok(paused.bytes * 10 < live.bytes, `paused ${paused.bytes} B vs ${live.bytes} B unpaused`);

    await settle(s.src, s.view);
    assert.equal(await s.view.evaluate(() => document.body.dataset.transport), 'webrtc');

    // A click at frame pixel (50, 40) reaches the source over the link (sender 0: not via the relay).
    const box = await s.view.evaluate(() => {
      const r = document.getElementById('screen')!.getBoundingClientRect();
      return { left: r.left, top: r.top, width: r.width, height: r.height };
    });
    const k = box.width / W;
    await s.view.mouse.click(box.left + (50 + 0.5) * k, box.top + (40 + 0.5) * k);
    await s.src.waitForFunction(() => (window as unknown as { inputs: Array<{ input: string; phase: number }> }).inputs.some((e) => e.input === 'pointer' && e.phase === 2), undefined, WAIT);
    const down = await s.src.evaluate(() => (window as unknown as { inputs: Array<{ input: string; phase: number; x: number; y: number; sender: number }> }).inputs.find((e) => e.input === 'pointer' && e.phase === 1));
    assert.deepEqual({ x: down?.x, y: down?.y, sender: down?.sender }, { x: 50, y: 40, sender: 0 });

    // The source's peer connection dies: the view resumes relay media at once, the relay sends
    // it the current picture first (it missed changes while paused), and that is what it shows —
    // the source's picture, exactly, with nothing repainted. A change drawn afterwards arrives as
    // a delta on top of it and still shows up exactly.
    const picturesBefore = (await relayStats(s.view)).pictures;
    const receivedBefore = await s.view.evaluate(() => ({ ...(window as unknown as { sluiceView: { received: Record<string, number> } }).sluiceView.received }));
    await s.src.evaluate(() => {
      const links = (window as unknown as { src: { links: { peers: Map<string, { pc: RTCPeerConnection }> } } }).src.links;
      for (const p of links.peers.values()) p.pc.close();
    });
    await s.view.waitForFunction(() => document.body.dataset.transport === 'websocket' && document.body.dataset.relayMedia === 'live', undefined, WAIT);
    const settled = await s.src.evaluate(canvasHash, 'c');
    await s.view.waitForFunction(canvasIs, { id: 'screen', want: settled }, { ...WAIT, polling: 100 });
    await s.view.waitForFunction((n) => (window as unknown as { sluiceView: { view: { pictures: number } } }).sluiceView.view.pictures > n, picturesBefore, WAIT);
    const receivedAfter = await s.view.evaluate(() => ({ ...(window as unknown as { sluiceView: { received: Record<string, number> } }).sluiceView.received }));
    assert.equal((receivedAfter.keyframe ?? 0) - (receivedBefore.keyframe ?? 0), 1, 'the relay sent its current picture as one keyframe on resume');
    assert.equal(await s.view.evaluate(() => (window as unknown as { sluiceView: { shown(): unknown; picture: unknown } }).sluiceView.shown() === (window as unknown as { sluiceView: { picture: unknown } }).sluiceView.picture), true, 'drawing the relay picture');
    await s.src.evaluate(() => (window as unknown as { paintOnce(): void }).paintOnce());
    const want = await s.src.evaluate(canvasHash, 'c');
    await s.view.waitForFunction(canvasIs, { id: 'screen', want }, { ...WAIT, polling: 100 });
    // And it links again (retry) and draws from the link, still exact.
    await s.view.waitForFunction(() => document.body.dataset.transport === 'webrtc', undefined, { timeout: 20_000 });
    await s.view.waitForFunction(canvasIs, { id: 'screen', want }, { ...WAIT, polling: 100 });
    assert.deepEqual(errors, []);
  });

  it('with /signal refused the view stays on websocket and matches the source', { timeout: 40_000 }, async (t) => {
    const s = await setup('rtc-view-refused', { authorize: (req) => (req.role === 'signal' ? { ok: false, code: 4403, reason: 'no signaling' } : { ok: true }) });
    t.after(() => s.close());
    await s.view.waitForFunction(() => Number(document.body.dataset.frames) >= 10, undefined, WAIT);
    await s.view.waitForFunction(() => (window as unknown as { sluiceView: { link: { state: string } } }).sluiceView.link.state === 'failed', undefined, WAIT);
    await settle(s.src, s.view);
    assert.equal(await s.view.evaluate(() => document.body.dataset.transport), 'websocket');
    assert.deepEqual(errors, []);
  });
});
