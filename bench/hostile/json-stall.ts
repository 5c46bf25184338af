// How long does one hostile, maximum-size JSON frame delay everybody else on the relay?
//
// A relay child process; a source publishing a small SignalDiff every 5 ms to 50 receivers that
// measure delivery latency (send time is in the diff; all clients share this process's clock);
// /healthz polled every 50 ms. After a baseline window, an attacker source on another channel
// sends one frame per attack — (a) deeply nested SignalDiff, (b) wide valid JSON, (c) JSON with
// invalid UTF-8 at its end — at --max-payload, and again at --max-json-payload when the relay has
// that option. The table gives the other receivers' max/p99 latency and the /healthz latency in
// each window, how the attacker was closed, and the relay's RSS.
//
// Not a test. Run: node --import tsx bench/hostile/json-stall.ts [--receivers 50] [--interval-ms 5]
//   [--window-ms 4000] [--max-payload N] [--max-json-payload N] [--relay-arg --x=y ...]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { DEFAULT_MAX_PAYLOAD } from '../../src/protocol/header.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import { spawnRelay } from '../../test/support/relay-harness.js';
import type { SpawnedRelay } from '../../test/support/relay-harness.js';
import { deepJson, invalidUtf8Json, sluiceFrame, wideJson } from '../../test/support/ws-garbage.js';

const { values: args } = parseArgs({
  options: {
    receivers: { type: 'string', default: '50' },
    'interval-ms': { type: 'string', default: '5' },
    'window-ms': { type: 'string', default: '4000' },
    'max-payload': { type: 'string' },
    'max-json-payload': { type: 'string' },
    'relay-arg': { type: 'string', multiple: true, default: [] },
  },
});
const RECEIVERS = Number(args.receivers);
const INTERVAL = Number(args['interval-ms']);
const WINDOW = Number(args['window-ms']);
const maxPayload = Number(args['max-payload'] ?? DEFAULT_MAX_PAYLOAD);

// Does this relay know --max-json-payload (and so, presumably, enforce it)?
const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const help = execFileSync(process.execPath, [bin, 'relay', '--help'], { encoding: 'utf8' });
const jsonLimitFlag = help.includes('--max-json-payload');
const maxJson = jsonLimitFlag ? Number(args['max-json-payload'] ?? 1024 * 1024) : undefined;

const relayArgs = ['--max-payload', String(maxPayload), ...(maxJson !== undefined ? ['--max-json-payload', String(maxJson)] : []), ...(args['relay-arg'] ?? [])];

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const maxOf = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);

const open = (url: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });

interface Window {
  name: string;
  bytes: number;
  latencies: number[];
  healthz: number[];
  /** Longest gap between two consecutive deliveries to any one receiver. */
  maxGap: number;
  closeCode?: number | string;
  closedAfterMs?: number;
  /** From the attack's send until /healthz and deliveries are prompt again. */
  recoveredAfterMs?: number;
  rssKiB?: number;
}

let relay: SpawnedRelay = await spawnRelay(relayArgs);
let current: Window | undefined;
const lastAt = new Map<WebSocket, number>();
const receivers: WebSocket[] = [];
let source: WebSocket;
let publishTimer: NodeJS.Timeout | undefined;
let healthTimer: NodeJS.Timeout | undefined;
let crashes = 0;

async function setUp(): Promise<void> {
  source = await open(`${relay.url}/source/bench`);
  source.send(encodeMessage({ kind: 'signal-sync', state: { t: performance.now(), n: 0 } }));
  receivers.length = 0;
  for (let i = 0; i < RECEIVERS; i++) {
    const ws = await open(`${relay.url}/stream/bench`);
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      const now = performance.now();
      let t: unknown;
      try {
        const m = decodeMessage(data);
        if (m.kind === 'signal-diff') t = m.diff.t;
        else if (m.kind === 'signal-sync') t = m.state.t;
      } catch {
        return;
      }
      if (typeof t !== 'number' || !current) return;
      if (now - t < 100) lastFresh = now;
      current.latencies.push(now - t);
      const prev = lastAt.get(ws);
      if (prev !== undefined) current.maxGap = Math.max(current.maxGap, now - prev);
      lastAt.set(ws, now);
    });
    receivers.push(ws);
  }
  let n = 0;
  publishTimer = setInterval(() => {
    if (source.readyState === source.OPEN) source.send(encodeMessage({ kind: 'signal-diff', diff: { t: performance.now(), n: ++n } }));
  }, INTERVAL);
  healthTimer = setInterval(() => {
    const w = current;
    const t0 = performance.now();
    fetch(`${relay.http}/healthz`, { signal: AbortSignal.timeout(30_000) })
      .then((r) => r.arrayBuffer())
      .then(() => {
        const ms = performance.now() - t0;
        if (ms < 200) lastHealthy = performance.now();
        w?.healthz.push(ms);
      })
      .catch((e: Error) => {
        const why = String((e.cause as Error | undefined)?.message ?? e.message);
        fetchErrors.set(why, (fetchErrors.get(why) ?? 0) + 1);
        w?.healthz.push(Infinity);
      });
  }, 50);
}

function tearDown(): void {
  clearInterval(publishTimer);
  clearInterval(healthTimer);
  for (const ws of receivers) ws.terminate();
  source?.terminate();
}

const results: Window[] = [];
const fetchErrors = new Map<string, number>();
let lastFresh = 0; // performance.now() of the last delivery with latency < 100 ms
let lastHealthy = 0; // performance.now() of the last /healthz answered within 200 ms

/** Resolves once the relay answers /healthz promptly and delivers fresh diffs again (or after `capMs`). */
async function recovered(since: number, capMs: number): Promise<number> {
  const end = since + capMs;
  while (performance.now() < end) {
    if (lastFresh > since && lastHealthy > since && !relay.exit) return Math.max(lastFresh, lastHealthy) - since;
    await new Promise((r) => setTimeout(r, 20));
  }
  return NaN;
}

async function measure(name: string, payload: Buffer | undefined): Promise<void> {
  const w: Window = { name, bytes: payload?.length ?? 0, latencies: [], healthz: [], maxGap: 0 };
  lastAt.clear();
  current = w;
  const t0 = performance.now();
  if (payload) {
    const attacker = await open(`${relay.url}/source/attacker-${results.length}`);
    attacker.on('error', () => {});
    const frame = sluiceFrame(FrameType.SignalDiff, payload);
    // The relay has dealt with the frame when it closes the attacker or answers the Ping sent
    // right behind it (frames of one socket are handled in order).
    let processedAt = NaN;
    let ending = false;
    const processed = new Promise<void>((resolve) => {
      attacker.once('close', (code) => {
        if (ending) return resolve();
        w.closeCode = code;
        w.closedAfterMs = performance.now() - sent;
        processedAt = Number.isNaN(processedAt) ? performance.now() : processedAt;
        resolve();
      });
      attacker.on('message', (data: Buffer) => {
        if (data[0] === FrameType.Pong) {
          processedAt = performance.now();
          resolve();
        }
      });
    });
    const sent = performance.now();
    attacker.send(frame);
    attacker.send(encodeMessage({ kind: 'ping' }));
    await Promise.race([processed, new Promise((r) => setTimeout(r, 120_000))]);
    const fine = await recovered(Number.isNaN(processedAt) ? performance.now() : processedAt, 120_000);
    w.recoveredAfterMs = Number.isNaN(fine) || Number.isNaN(processedAt) ? NaN : processedAt + fine - sent;
    const left = WINDOW - (performance.now() - t0);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    if (w.closeCode === undefined) w.closeCode = Number.isNaN(processedAt) ? 'no answer' : 'accepted';
    ending = true;
    attacker.terminate();
  } else {
    await new Promise((r) => setTimeout(r, WINDOW));
  }
  w.rssKiB = rssKiB(relay.pid);
  current = undefined;
  results.push(w);
  if (relay.exit) {
    crashes++;
    w.closeCode = `${w.closeCode ?? ''} RELAY CRASHED`;
    tearDown();
    relay = await spawnRelay(relayArgs);
    await setUp();
  }
  await new Promise((r) => setTimeout(r, 1000)); // let it settle
}

await setUp();
await new Promise((r) => setTimeout(r, 500));
await measure('baseline', undefined);
const sizes: Array<[string, number]> = [[`max-payload ${maxPayload}`, maxPayload]];
if (maxJson !== undefined && maxJson !== maxPayload) sizes.push([`max-json-payload ${maxJson}`, maxJson]);
for (const [label, size] of sizes) {
  await measure(`deep  @ ${label}`, deepJson(size));
  await measure(`wide  @ ${label}`, wideJson(size));
  await measure(`utf8! @ ${label}`, invalidUtf8Json(size));
}
await measure('after', undefined);
tearDown();

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : x === Infinity ? 'timeout' : '-');
console.log(`\nrelay ${bin} ${relayArgs.join(' ')}; ${RECEIVERS} receivers, a diff every ${INTERVAL} ms, ${WINDOW} ms per window`);
console.log(`--max-json-payload ${jsonLimitFlag ? 'supported' : 'not supported'} by this relay`);
const rows = results.map((w) => [
  w.name,
  String(w.bytes),
  String(w.latencies.length),
  f(pct(w.latencies, 50)),
  f(pct(w.latencies, 99)),
  f(maxOf(w.latencies)),
  f(w.maxGap),
  f(pct(w.healthz, 99)),
  f(maxOf(w.healthz)),
  String(w.closeCode ?? '-'),
  w.closedAfterMs === undefined ? '-' : f(w.closedAfterMs),
  w.recoveredAfterMs === undefined ? '-' : f(w.recoveredAfterMs),
  String(w.rssKiB ?? '-'),
]);
const head = ['window', 'bytes', 'deliveries', 'p50 ms', 'p99 ms', 'max ms', 'max gap ms', 'healthz p99', 'healthz max', 'attacker close', 'closed after ms', 'stalled ms', 'relay RSS KiB'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
console.log(line(head));
console.log(widths.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(line(r));
console.log(`relay crashes: ${crashes}`);
for (const [why, n] of fetchErrors) console.log(`/healthz failed ${n}×: ${why}`);
console.log('stalled ms: from the attack frame until /healthz answers within 200 ms and a diff arrives within 100 ms of being sent.');
relay.kill();
process.exit(0);
