// Pixels in the browser, measured in headless Chromium (not a test): encode and decode time per
// frame at 720p and 1080p for delta and compressed (WebP) frames, bytes per frame against raw for a
// typical animated UI and for video-like content, and source → receiver frame latency over a
// local relay (publishCanvas → /view/{channel}). Prints a Markdown table.
// Run: npm run build && node --import tsx bench/browser/pixels-bench.ts
import type { HttpRequest, HttpResponse } from '../../src/relay/transport.js';
import { startRelay } from '../../src/relay/server.js';
import { relayHttpRoutes } from '../../src/relay/static-routes.js';
import { launchChromium } from '../../test/support/browser.js';

const FRAMES = Number(process.env.FRAMES ?? 20);
/** WEBRTC=1: the latency table over WebRTC (source `webrtc: true`, `/view/…?webrtc=1`); LATENCY_ONLY=1 skips the codec table. */
const WEBRTC = process.env.WEBRTC === '1';
const LATENCY_ONLY = process.env.LATENCY_ONLY === '1';

// The page draws the content, reads it back and runs the same encoder and decoder the SDK uses
// (CanvasFrameEncoder, PictureDecoder, decodeImageBytes), on its main thread.
const PAGE = `<!doctype html><html><body><canvas id="c"></canvas>
<script type="module">
import { CanvasFrameEncoder, PictureDecoder, decodeImageBytes, publishCanvas, source } from '/sluice.js';
const c = document.getElementById('c');
const g = c.getContext('2d', { willReadFrequently: true });
function ui(w, h, t) {
  g.fillStyle = '#f4f5f7'; g.fillRect(0, 0, w, h);
  g.fillStyle = '#2b3140'; g.fillRect(0, 0, w * 0.18, h);
  g.fillStyle = '#fff'; g.fillRect(w * 0.18, 0, w, 64);
  g.font = Math.round(h / 45) + 'px sans-serif';
  for (let i = 0; i < 14; i++) {
    g.fillStyle = '#dde'; g.fillText('Menu item ' + i, 16, 100 + i * h / 20);
    g.fillStyle = '#fff'; g.fillRect(w * 0.22 + (i % 4) * w * 0.19, 100 + Math.floor(i / 4) * h * 0.2, w * 0.17, h * 0.16);
    g.fillStyle = '#333'; g.fillText('Card ' + i + ' · static text', w * 0.23 + (i % 4) * w * 0.19, 130 + Math.floor(i / 4) * h * 0.2);
  }
  g.fillStyle = '#4a90e2'; g.fillRect(w * 0.2 + ((t * 12) % (w * 0.7)), h * 0.85, 160, 90);
  g.fillStyle = '#111'; g.fillText('frame ' + t + ' · ' + new Date(1700000000000 + t * 33).toISOString(), w * 0.2, 40);
}
let img;
function video(w, h, t) {
  if (!img || img.width !== w) img = g.createImageData(w, h);
  const d = img.data;
  let s = t * 2654435761 >>> 0;
  for (let y = 0, i = 0; y < h; y++) for (let x = 0; x < w; x++, i += 4) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    const n = (s & 15) - 8;
    d[i] = ((x + t * 6) & 255) + n; d[i + 1] = ((y + t * 3) & 255) + n; d[i + 2] = (((x + y) >> 1) + t * 4 & 255) + n; d[i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };
window.runBench = async (w, h, content, frames) => {
  c.width = w; c.height = h;
  const draw = content === 'ui' ? ui : video;
  const delta = new CanvasFrameEncoder({ mode: 'delta' });
  const auto = new CanvasFrameEncoder({ mode: 'auto' });
  const pic = new PictureDecoder();
  const r = { read: [], deltaEnc: [], deltaDec: [], deltaBytes: [], webpEnc: [], webpDec: [], webpBytes: [], jpegBytes: [], autoBytes: [] };
  const off = new OffscreenCanvas(w, h);
  const og = off.getContext('2d');
  for (let t = 0; t < frames; t++) {
    draw(w, h, t);
    let t0 = performance.now();
    const d = g.getImageData(0, 0, w, h).data;
    r.read.push(performance.now() - t0);
    const rgba = new Uint8Array(d.buffer);
    const e = await delta.encode({ width: w, height: h, rgba, timestamp: t, seq: t });
    if (t > 0) { r.deltaEnc.push(e.encodeMs); r.deltaBytes.push(e.frame.length); }
    t0 = performance.now();
    pic.apply({ kind: e.kind === 'delta' ? 'delta-pixels' : 'pixels', width: w, height: h, data: e.frame.subarray(16) });
    if (t > 0) r.deltaDec.push(performance.now() - t0);
    og.drawImage(c, 0, 0);
    t0 = performance.now();
    const webp = new Uint8Array(await (await off.convertToBlob({ type: 'image/webp', quality: 0.8 })).arrayBuffer());
    r.webpEnc.push(performance.now() - t0);
    r.webpBytes.push(webp.length);
    r.jpegBytes.push((await off.convertToBlob({ type: 'image/jpeg', quality: 0.8 })).size);
    t0 = performance.now();
    await decodeImageBytes(webp, w, h);
    r.webpDec.push(performance.now() - t0);
    const compress = async (type, quality) => new Uint8Array(await (await off.convertToBlob({ type, quality })).arrayBuffer());
    const a = await auto.encode({ width: w, height: h, rgba: rgba.slice(), timestamp: t, seq: t, compress });
    if (t > 0) r.autoBytes.push(a.frame.length);
  }
  const out = {};
  for (const [k, v] of Object.entries(r)) out[k] = med(v);
  out.raw = w * h * 4 + 16;
  return out;
};
// Latency: this page as a source streaming the UI content at 30 fps.
window.startSource = (w, h, mode, ch, webrtc) => {
  c.width = w; c.height = h;
  let t = 0;
  setInterval(() => ui(w, h, t++), 33);
  const src = source('ws://' + location.host + '/source/' + ch, { mode: 'pixel', webrtc });
  window.pub = src.publishCanvas(c, { fps: 30, mode });
};
</script></body></html>`;

const page = (req: HttpRequest, res: HttpResponse) => {
  if ((req.url ?? '').split('?')[0] !== '/pixels-bench.html') return false;
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(PAGE);
  return true;
};

console.log(`load average before: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
const relay = await startRelay({ port: 0, host: '127.0.0.1', logLevel: 'warn', httpRoutes: [page, ...relayHttpRoutes()] });
const http = `http://127.0.0.1:${relay.port}`;
const browser = await launchChromium();
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const kb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);
try {
  const p = await browser.newPage();
  if (!LATENCY_ONLY) {
  await p.goto(`${http}/pixels-bench.html`);
  await p.waitForFunction(() => 'runBench' in window);
  console.log(`\nPer frame, median of ${FRAMES} frames (first frame excluded for deltas), Chromium ${browser.version()}, main thread:\n`);
  console.log('| size | content | readback ms | delta enc ms | delta dec ms | delta bytes | WebP q0.8 enc ms | WebP dec ms | WebP bytes | JPEG q0.8 bytes | auto bytes | raw bytes |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [w, h] of [[1280, 720], [1920, 1080]] as const) {
    for (const content of ['ui', 'video'] as const) {
      const r = (await p.evaluate(([w, h, content, n]) => (window as unknown as { runBench(...a: unknown[]): Promise<Record<string, number>> }).runBench(w, h, content, n), [w, h, content, FRAMES] as const)) as Record<string, number>;
      const pct = (b: number) => `${kb(b)} (${((100 * b) / r.raw!).toFixed(b / r.raw! < 0.01 ? 2 : 1)} %)`;
      console.log(`| ${w}×${h} | ${content === 'ui' ? 'animated UI' : 'video-like'} | ${fmt(r.read!)} | ${fmt(r.deltaEnc!)} | ${fmt(r.deltaDec!)} | ${pct(r.deltaBytes!)} | ${fmt(r.webpEnc!)} | ${fmt(r.webpDec!)} | ${pct(r.webpBytes!)} | ${pct(r.jpegBytes!)} | ${pct(r.autoBytes!)} | ${kb(r.raw!)} |`);
    }
  }
  }
  await p.close();

  if (WEBRTC) console.log('\nOver WebRTC: the view draws from its data channel while the link is healthy (a row marked "fell back" ended on the relay path).');
  console.log('\nSource page → relay → /view page, same machine and clock (frame age at draw: receive + decode + draw), animated UI at 30 fps, 5 s:\n');
  console.log('| size | mode | frames drawn/s | age median ms | age p95 ms | timed frames | source skipped | encoder ms (last) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [w, h] of [[1280, 720], [1920, 1080]] as const) {
    for (const mode of ['delta', 'compressed', 'raw'] as const) {
      const ch = `lat-${w}-${mode}`;
      const src = await browser.newPage();
      await src.goto(`${http}/pixels-bench.html`);
      await src.waitForFunction(() => 'startSource' in window);
      await src.evaluate(([w, h, mode, ch, webrtc]) => (window as unknown as { startSource(...a: unknown[]): void }).startSource(w, h, mode, ch, webrtc), [w, h, mode, ch, WEBRTC] as const);
      const view = await browser.newPage({ viewport: { width: 960, height: 540 } });
      await view.goto(`${http}/view/${ch}${WEBRTC ? '?webrtc=1' : ''}`);
      await view.waitForFunction(() => Number(document.body.dataset.frames) >= 5, undefined, { timeout: 30_000 });
      if (WEBRTC) await view.waitForFunction(() => document.body.dataset.transport === 'webrtc', undefined, { timeout: 30_000 });
      const f0 = Number(await view.evaluate(() => document.body.dataset.frames));
      await view.evaluate(() => ((window as unknown as { sluiceView: { recentAges: number[] } }).sluiceView.recentAges.length = 0));
      await new Promise((r) => setTimeout(r, 5000));
      const ages = await view.evaluate(() => [...(window as unknown as { sluiceView: { recentAges: number[] } }).sluiceView.recentAges]);
      const f1 = Number(await view.evaluate(() => document.body.dataset.frames));
      const fellBack = WEBRTC && (await view.evaluate(() => document.body.dataset.transport)) !== 'webrtc' ? ' (fell back)' : '';
      const stats = await src.evaluate(() => (window as unknown as { pub: { stats: Record<string, number> } }).pub.stats);
      ages.sort((a, b) => a - b);
      const q = (x: number) => ages[Math.min(ages.length - 1, Math.floor(ages.length * x))] ?? NaN;
      console.log(`| ${w}×${h} | ${mode}${fellBack} | ${((f1 - f0) / 5).toFixed(1)} | ${ages.length ? q(0.5) : 'n/a'} | ${ages.length ? q(0.95) : 'n/a'} | ${ages.length} of ${f1 - f0} | ${stats.skipped} of ${stats.skipped! + stats.captured!} | ${fmt(stats.lastEncodeMs!)} |`);
      await view.close();
      await src.close();
    }
  }
} finally {
  await browser.close();
  await relay.close(1000);
}
