// WebRTC media link vs the relay path, in headless Chromium on this machine: one source page sends
// a frame stream over both paths (the relay's WebSocket and one data channel per linked receiver),
// N receiver pages record when each frame arrives on each path. Prints, per run: the source's
// upload (relay copy + WebRTC copies), frames skipped for peers that were behind, and the median
// and p95 one-way latency per path (all pages share one clock).
// Usage: node --import tsx bench/webrtc/upload.ts [seconds]
import { launchChromium } from '../../test/support/browser.js';
import { startTestRelay } from '../../test/support/relay-harness.js';
import type { HttpRequest, HttpResponse } from '../../src/relay/transport.js';

const SECONDS = Number(process.argv[2] ?? 3);
/** Optional: the source's maxBufferedBytes (default: the library's). */
const BUF = process.env.BENCH_BUF ?? '';
/** Optional: comma-separated frame sizes and receiver counts. */
const SIZES = (process.env.BENCH_SIZES ?? '30000,300000').split(',').map(Number);
const PEERS = (process.env.BENCH_PEERS ?? '1,4,8').split(',').map(Number);

const SOURCE = `<!doctype html><body><script type="module">
import { SourceMediaLinks } from '/sluice.js';
const q = new URLSearchParams(location.search);
const ch = q.get('ch');
const relay = new WebSocket('ws://' + location.host + '/source/' + ch);
await new Promise((r) => (relay.onopen = r));
const links = new SourceMediaLinks({ signalUrl: 'ws://' + location.host + '/signal/' + ch, ...(q.get('buf') ? { maxBufferedBytes: Number(q.get('buf')) } : {}) });
window.links = links;
window.sent = {};
window.relayBytes = 0;
// CompressedPixels frames: opaque to the relay, so both paths carry the same bytes.
window.run = (size, fps, seconds) => new Promise((done) => {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const t = setInterval(() => {
    if (performance.now() > end) { clearInterval(t); done(n); return; }
    n++;
    const f = new Uint8Array(16 + size);
    const v = new DataView(f.buffer);
    v.setUint8(0, 0x02); v.setUint8(1, 0x02); v.setUint32(4, n, true); v.setUint16(8, 640, true); v.setUint16(10, 360, true); v.setUint32(12, size, true);
    for (let i = 16; i < f.length; i += 997) f[i] = (n + i) & 0xff;
    window.sent[n] = Date.now();
    relay.send(f); window.relayBytes += f.length;
    links.send(f);
  }, 1000 / fps);
});
document.body.dataset.ready = '1';
</script>`;

const RECEIVER = `<!doctype html><body><script type="module">
import { ReceiverMediaLink } from '/sluice.js';
const q = new URLSearchParams(location.search);
const ch = q.get('ch');
window.rtc = {}; window.ws = {};
const relay = new WebSocket('ws://' + location.host + '/stream/' + ch);
relay.binaryType = 'arraybuffer';
relay.onmessage = (e) => { if (typeof e.data !== 'string' && new Uint8Array(e.data)[0] === 0x02) window.ws[new DataView(e.data).getUint32(4, true)] = Date.now(); };
await new Promise((r) => (relay.onopen = r));
const link = new ReceiverMediaLink({ signalUrl: 'ws://' + location.host + '/signal/' + ch, retryMs: 0 });
window.link = link;
link.on('frame', (f) => { if (f[0] === 0x02) window.rtc[new DataView(f.buffer, f.byteOffset).getUint32(4, true)] = Date.now(); });
document.body.dataset.ready = '1';
</script>`;

function pages(req: HttpRequest, res: HttpResponse): boolean {
  const path = (req.url ?? '').split('?')[0];
  const body = path === '/bench-source.html' ? SOURCE : path === '/bench-receiver.html' ? RECEIVER : undefined;
  if (!body) return false;
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(body);
  return true;
}

function stats(lat: number[]): string {
  if (lat.length === 0) return '—';
  lat.sort((a, b) => a - b);
  return `${lat[Math.floor(lat.length / 2)]} / ${lat[Math.floor(lat.length * 0.95)]}`;
}

const relay = await startTestRelay({ httpRoutes: [pages] });
const browser = await launchChromium();
const http = relay.url.replace('ws:', 'http:');
console.log(`${SECONDS} s per run, 30 fps, CompressedPixels frames, maxBufferedBytes ${BUF || 'default'}; latency ms median / p95`);
console.log('| frame | receivers | WebRTC upload (MB/s) | relay upload (MB/s) | skipped (per peer) | delivered rtc / relay | latency WebRTC | latency relay |');
console.log('|---|---|---|---|---|---|---|---|');
let run = 0;
for (const size of SIZES) {
  for (const peers of PEERS) {
    const ch = `bench-${run++}`;
    const src = await browser.newPage();
    await src.goto(`${http}/bench-source.html?ch=${ch}&buf=${BUF}`);
    await src.waitForFunction(() => document.body.dataset.ready === '1');
    const rx = [];
    for (let i = 0; i < peers; i++) {
      const p = await browser.newPage();
      await p.goto(`${http}/bench-receiver.html?ch=${ch}`);
      rx.push(p);
    }
    for (const p of rx) await p.waitForFunction(() => (window as unknown as { link: { transport: string } }).link.transport === 'webrtc', undefined, { timeout: 20_000 });
    const before = await src.evaluate(() => ({ ...(window as unknown as { links: { stats: Record<string, number> } }).links.stats }));
    const frames = await src.evaluate(([s, sec]) => (window as unknown as { run(a: number, b: number, c: number): Promise<number> }).run(s!, 30, sec!), [size, SECONDS]);
    await new Promise((r) => setTimeout(r, 1000)); // let the tail arrive
    const after: Record<string, number> = await src.evaluate(() => ({ ...(window as unknown as { links: { stats: Record<string, number> } }).links.stats, relayBytes: (window as unknown as { relayBytes: number }).relayBytes }));
    const sent = await src.evaluate(() => (window as unknown as { sent: Record<string, number> }).sent);
    const rtcLat: number[] = [];
    const wsLat: number[] = [];
    let rtcN = 0;
    let wsN = 0;
    for (const p of rx) {
      const { rtc, ws } = await p.evaluate(() => ({ rtc: (window as unknown as { rtc: Record<string, number> }).rtc, ws: (window as unknown as { ws: Record<string, number> }).ws }));
      for (const [n, at] of Object.entries(rtc)) rtcLat.push(at - sent[n]!);
      for (const [n, at] of Object.entries(ws)) wsLat.push(at - sent[n]!);
      rtcN += Object.keys(rtc).length;
      wsN += Object.keys(ws).length;
    }
    const rtcMBs = (after.bytesSent! - before.bytesSent!) / SECONDS / 1e6;
    const relayMBs = after.relayBytes! / SECONDS / 1e6;
    const skipped = (after.framesSkipped! - before.framesSkipped!) / peers;
    console.log(`| ${size / 1000} KB | ${peers} | ${rtcMBs.toFixed(1)} | ${relayMBs.toFixed(1)} | ${skipped.toFixed(0)} of ${frames} | ${(rtcN / peers).toFixed(0)} / ${(wsN / peers).toFixed(0)} | ${stats(rtcLat)} | ${stats(wsLat)} |`);
    for (const p of [src, ...rx]) await p.close();
  }
}
await browser.close();
await relay.close();
