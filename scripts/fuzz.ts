// The long live fuzz: a relay child process under many concurrent hostile connections until a
// frame count or a time cap is reached. Every kind of Sluice frame (valid and mutated) from every
// role, WebSocket-layer garbage on accepted and refused connections, and hostile JSON (a 1.5 MB
// diff nested 100,000 deep, a 16 MiB one, wide and invalid-UTF-8 JSON, __proto__ keys). A good
// channel runs throughout; strict watchers decode everything the fuzzed channels deliver.
//
// Prints a summary and exits 1 on any crash (the relay exited: it is restarted and counted),
// hang (/healthz or the good channel silent for more than 2 s, plus however long this process's
// own event loop lagged in the last 5 s) or bad frame forwarded.
//
// Usage: npm run fuzz -- [--frames 1000000] [--seed N] [--duration-s 600] [--concurrency 32]
//                        [--relay-arg=--flag --relay-arg=value ...]
// Environment: SLUICE_FUZZ_FRAMES, SLUICE_FUZZ_SEED, SLUICE_FUZZ_DURATION_S, SLUICE_FUZZ_CONCURRENCY.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { FrameType } from '../src/protocol/frame-codes.js';
import { DEFAULT_MAX_PAYLOAD } from '../src/protocol/header.js';
import { encodeMessage } from '../src/protocol/message.js';
import { message } from '../test/support/arbitraries.js';
import { spawnRelay } from '../test/support/relay-harness.js';
import type { SpawnedRelay } from '../test/support/relay-harness.js';
import { rng } from '../test/support/rng.js';
import { DOCUMENTED_CLOSE_CODES, GARBAGE, PROTO_STATE, RawWs, StrictWatcher, deepJson, invalidUtf8Json, mutate, sluiceFrame, wideJson } from '../test/support/ws-garbage.js';
import type { Ending } from '../test/support/ws-garbage.js';

const { values: opts } = parseArgs({
  options: {
    frames: { type: 'string', default: process.env.SLUICE_FUZZ_FRAMES ?? '1000000' },
    seed: { type: 'string', default: process.env.SLUICE_FUZZ_SEED ?? String(Date.now() % 1e9) },
    'duration-s': { type: 'string', default: process.env.SLUICE_FUZZ_DURATION_S ?? '600' },
    concurrency: { type: 'string', default: process.env.SLUICE_FUZZ_CONCURRENCY ?? '32' },
    'relay-arg': { type: 'string', multiple: true, default: [] },
    /** Leaves out WebSocket garbage on refused connections (to get past the known crash on an old relay). */
    'skip-refused': { type: 'boolean', default: false },
  },
});
const FRAMES = Number(opts.frames);
const SEED = Number(opts.seed);
const DURATION_MS = Number(opts['duration-s']) * 1000;
const CONCURRENCY = Number(opts.concurrency);
const HANG_MS = 2000;
const JWT_SECRET = 'x';
const ORIGIN = 'http://ok';
const RELAY_ARGS = ['--auth', 'jwt', '--jwt-secret', JWT_SECRET, '--allowed-origins', ORIGIN, '--max-payload', String(DEFAULT_MAX_PAYLOAD), ...(opts['relay-arg'] ?? [])];

const rand = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[(rand() * xs.length) | 0]!;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const token = await new SignJWT({ publish: ['*'], subscribe: ['*'] })
  .setProtectedHeader({ alg: 'HS256' })
  .setExpirationTime('24h')
  .sign(new TextEncoder().encode(JWT_SECRET));
const headers = { origin: ORIGIN, authorization: `Bearer ${token}` };
const corpus = fc.sample(message(), { numRuns: 2000, seed: SEED }).map(encodeMessage);

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- counters

const stats = {
  framesSent: 0,
  connections: 0,
  handshakeFailures: 0,
  closeCodes: new Map<string, number>(),
  crashes: [] as string[],
  hangs: [] as string[],
  longestHealthzMs: 0,
  longestGoodGapMs: 0,
  fuzzerLagMs: 0,
  /** Checks where the silence passed HANG_MS only by as much as this process itself lagged. */
  excusedSilences: 0,
  undocumented: new Map<number, number>(),
  wrongRefusals: new Map<string, number>(),
};
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
const countClose = (code: number | undefined) => {
  bump(stats.closeCodes, code === undefined ? 'none' : String(code));
  if (code !== undefined && !DOCUMENTED_CLOSE_CODES.has(code)) bump(stats.undocumented, code);
};
/** The last actions, printed when the relay crashes or hangs (to reproduce it). */
const recent: string[] = [];
const note = (s: string) => {
  recent.push(s);
  if (recent.length > 12) recent.shift();
};

// ---------------------------------------------------------------- the relay and its good channel

interface Live {
  relay: SpawnedRelay;
  src: WebSocket;
  watchers: Map<string, StrictWatcher>;
  good: StrictWatcher;
  n: number;
  lastGood: number;
  lastHealthz: number;
  timers: NodeJS.Timeout[];
  hangOpen: boolean;
}

const badFrames: string[] = [];
let live: Live;
let rssBefore = NaN;
let restarting: Promise<void> | undefined;

async function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, maxPayload: 64 * 1024 * 1024 });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
  return ws;
}

async function startLive(): Promise<Live> {
  const relay = await spawnRelay(RELAY_ARGS);
  const src = await openWs(`${relay.url}/source/good`);
  src.send(encodeMessage({ kind: 'signal-sync', state: { n: 0 } }));
  const good = new StrictWatcher(`${relay.url}/stream/good`, headers);
  await good.start();
  const watchers = new Map<string, StrictWatcher>([['good', good]]);
  for (const ch of ['fz', 'fz2', 'json']) {
    for (const q of ['', '?batch=1']) {
      const w = new StrictWatcher(`${relay.url}/stream/${ch}${q}`, headers);
      await w.start();
      watchers.set(ch + q, w);
    }
  }
  const l: Live = { relay, src, watchers, good, n: 0, lastGood: performance.now(), lastHealthz: performance.now(), timers: [], hangOpen: false };
  let seen = -1;
  let lastTick = performance.now();
  // This process's lags over the last 5 s: a silence is a hang only past HANG_MS plus these.
  const lags: Array<[number, number]> = [];
  l.timers.push(
    setInterval(() => {
      if (src.readyState === src.OPEN) src.send(encodeMessage({ kind: 'signal-diff', diff: { n: ++l.n } }));
      const now = performance.now();
      if (good.state.n !== seen) {
        seen = good.state.n as number;
        stats.longestGoodGapMs = Math.max(stats.longestGoodGapMs, now - l.lastGood);
        l.lastGood = now;
      }
    }, 50),
    setInterval(() => {
      const t0 = performance.now();
      fetch(`${relay.http}/healthz`, { signal: AbortSignal.timeout(60_000) })
        .then(async (r) => {
          await r.arrayBuffer();
          const now = performance.now();
          stats.longestHealthzMs = Math.max(stats.longestHealthzMs, now - t0);
          l.lastHealthz = now;
        })
        .catch(() => {});
    }, 250),
    setInterval(() => {
      const now = performance.now();
      // This process's own event-loop lag: a hang seen while it is large may be the fuzzer's, not the relay's.
      const lag = Math.max(0, now - lastTick - 100);
      stats.fuzzerLagMs = Math.max(stats.fuzzerLagMs, lag);
      lastTick = now;
      lags.push([now, lag]);
      while (lags.length > 0 && lags[0]![0] < now - 5000) lags.shift();
      const ownLag = lags.reduce((sum, [, ms]) => sum + ms, 0);
      if (relay.exit) return;
      const silent = Math.max(now - l.lastHealthz, now - l.lastGood);
      if (silent > HANG_MS + ownLag && !l.hangOpen) {
        l.hangOpen = true;
        stats.hangs.push(`${(now - l.lastHealthz).toFixed(0)} ms without /healthz, ${(now - l.lastGood).toFixed(0)} ms without the good channel; recent: ${recent.slice(-4).join(' | ')}`);
      } else if (silent < HANG_MS) l.hangOpen = false;
      if (silent > HANG_MS && silent <= HANG_MS + ownLag) stats.excusedSilences++;
    }, 100),
  );
  return l;
}

function stopLive(l: Live): void {
  for (const t of l.timers) clearInterval(t);
  for (const [ch, w] of l.watchers) {
    for (const b of w.bad) badFrames.push(`${ch}: ${b}`);
    for (const c of w.closeCodes) if (!DOCUMENTED_CLOSE_CODES.has(c)) bump(stats.undocumented, c);
    w.stop();
  }
  l.src.terminate();
}

/** Called by every worker that notices the relay is gone: counts the crash once and restarts it. */
async function checkCrash(): Promise<void> {
  if (!live.relay.exit) return;
  restarting ??= (async () => {
    const err = live.relay.stderr();
    const first = /^(?:\w*Error|RangeError|TypeError)[^\n]*$/m.exec(err)?.[0] ?? err.split('\n').slice(-6).join(' / ');
    stats.crashes.push(`${first}; recent: ${recent.slice(-4).join(' | ')}`);
    console.error(`relay crashed (${stats.crashes.length}): ${first}`);
    stopLive(live);
    live = await startLive();
    restarting = undefined;
  })();
  await restarting;
}

// ---------------------------------------------------------------- sessions

const ROLES = ['/source/fz', '/stream/fz', '/stream/good', '/signal/fz', '/peer/fz2', '/stream/fz2', '/source/fz2', '/source/fz?producer=p1', '/stream/fz?select=a,b'];
/** Paths the relay accepts (sources get a channel of their own, so no 4409). */
let nextChannel = 0;
const ACCEPTED = [() => `/source/g-${nextChannel++}`, () => `/peer/g-${nextChannel++}`, () => '/stream/fz', () => '/stream/fz?batch=1', () => '/signal/fz', () => '/ws'];
const ENDINGS: Ending[] = ['wait', 'half-close', 'destroy'];
const refusedTargets = () => [
  { label: 'no token', path: '/stream/fz', origin: ORIGIN, expect: 4401 },
  { label: 'wrong origin', path: '/stream/fz', origin: 'http://evil.example', authorization: headers.authorization, expect: 4403 },
  { label: 'unknown path', path: '/nowhere', origin: ORIGIN, authorization: headers.authorization, expect: 4404 },
  { label: 'bad%20name', path: '/stream/bad%20name', origin: ORIGIN, authorization: headers.authorization, expect: 4400 },
  { label: '64×€ name', path: `/stream/${encodeURIComponent('€'.repeat(64))}`, origin: ORIGIN, authorization: headers.authorization, expect: 4400 },
  { label: 'second source', path: '/source/good', origin: ORIGIN, authorization: headers.authorization, expect: 4409 },
];

/** Valid and mutated protocol frames from one role, then a close or a reset. */
async function protocolSession(): Promise<void> {
  const role = pick(ROLES);
  const ws = new WebSocket(live.relay.url + role, { headers });
  ws.on('error', () => {});
  let code: number | undefined;
  const closed = new Promise<void>((r) =>
    ws.once('close', (c) => {
      code = c;
      r();
    }),
  );
  const opened = await Promise.race([new Promise<boolean>((r) => ws.once('open', () => r(true))), closed.then(() => false)]);
  stats.connections++;
  if (!opened) {
    stats.handshakeFailures++;
    await sleep(50);
    return;
  }
  const n = 20 + ((rand() * 480) | 0);
  note(`protocol ${n} frames on ${role}`);
  for (let i = 0; i < n && ws.readyState === ws.OPEN; i++) {
    ws.send(mutate(pick(corpus), rand));
    stats.framesSent++;
    if (ws.bufferedAmount > 1 << 20 || i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  await Promise.race([closed, sleep(30)]);
  if (code === undefined) {
    if (rand() < 0.5) ws.close();
    else ws.terminate();
  }
  await Promise.race([closed, sleep(3000)]);
  countClose(code);
}

/** WebSocket-layer garbage on an accepted or a refused connection. */
async function garbageSession(): Promise<void> {
  const refused = !opts['skip-refused'] && rand() < 0.5;
  const target = refused
    ? pick(refusedTargets())
    : { label: 'accepted', path: pick(ACCEPTED)(), origin: ORIGIN, authorization: headers.authorization, expect: undefined as number | undefined };
  const g = pick(GARBAGE);
  const ending = pick(ENDINGS);
  note(`garbage "${g.name}" on ${target.label} ${target.expect ?? target.path}, ${ending}`);
  let ws: RawWs;
  try {
    ws = await RawWs.connect(live.relay.url, { path: target.path, origin: target.origin, authorization: target.authorization });
  } catch {
    stats.handshakeFailures++;
    await sleep(50);
    return;
  }
  stats.connections++;
  if (refused) await Promise.race([sleep(10), ws.done]);
  ws.write(g.bytes(rand));
  stats.framesSent++;
  await ws.finish(ending, 3000);
  countClose(ws.closeCode);
  if (target.expect !== undefined && ws.closeCode !== target.expect) bump(stats.wrongRefusals, `${target.label}: expected ${target.expect}, got ${ws.closeCode ?? 'none'}`);
}

/** Hostile JSON on the "json" channel: deep, wide, invalid UTF-8, __proto__. */
async function jsonSession(): Promise<void> {
  let ws: WebSocket;
  try {
    ws = await openWs(`${live.relay.url}/source/json`);
  } catch {
    stats.handshakeFailures++;
    return;
  }
  stats.connections++;
  const kind = pick(['deep 1.5 MB', 'wide 256 KiB', 'invalid UTF-8 1 MiB', '__proto__']);
  note(`json ${kind}`);
  let payload: Buffer;
  let type: number = FrameType.SignalDiff;
  if (kind === 'deep 1.5 MB') payload = deepJson(0, { key: 'abcdefghij', depth: 100_000 });
  else if (kind === 'wide 256 KiB') payload = wideJson(256 * 1024);
  else if (kind === 'invalid UTF-8 1 MiB') payload = invalidUtf8Json(1024 * 1024);
  else {
    payload = Buffer.from(PROTO_STATE);
    type = FrameType.SignalSync;
  }
  let code: number | undefined;
  const closed = new Promise<void>((r) =>
    ws.once('close', (c) => {
      code = c;
      r();
    }),
  );
  ws.send(sluiceFrame(type, payload));
  stats.framesSent++;
  await Promise.race([closed, sleep(3000)]);
  if (code === undefined) ws.close();
  await Promise.race([closed, sleep(3000)]);
  countClose(code);
}

// ---------------------------------------------------------------- run

live = await startLive();
rssBefore = rssKiB(live.relay.pid);
const started = performance.now();
const deadline = started + DURATION_MS;
let lastReport = started;
console.error(`fuzz: seed ${SEED}, ${FRAMES} frames, cap ${DURATION_MS / 1000} s, ${CONCURRENCY} connections at a time; relay ${RELAY_ARGS.join(' ')}`);

async function worker(): Promise<void> {
  while (stats.framesSent < FRAMES && performance.now() < deadline) {
    await checkCrash();
    const r = rand();
    try {
      if (r < 0.8) await protocolSession();
      else if (r < 0.985) await garbageSession();
      else await jsonSession();
    } catch (e) {
      note(`session error ${(e as Error).message}`);
    }
    const now = performance.now();
    if (now - lastReport > 10_000) {
      lastReport = now;
      console.error(`  ${((now - started) / 1000).toFixed(0)} s: ${stats.framesSent} frames, ${stats.connections} connections, ${stats.crashes.length} crashes, ${stats.hangs.length} hangs`);
    }
  }
}
/** Once, 5 s in: a SignalDiff of the maximum payload size nested as deep as it fits (16 MiB by default). */
let bigDeep = 'not sent';
async function bigDeepOnce(): Promise<void> {
  await sleep(5000);
  if (stats.framesSent >= FRAMES || performance.now() > deadline) return;
  const payload = deepJson(DEFAULT_MAX_PAYLOAD);
  let ws: WebSocket | undefined;
  for (let attempt = 0; ws === undefined; attempt++) {
    try {
      await checkCrash();
      ws = await openWs(`${live.relay.url}/source/json-big`);
    } catch (e) {
      bigDeep = `could not connect: ${(e as Error).message}`;
      if (attempt >= 20) return;
      await sleep(250);
    }
  }
  note(`json deep ${payload.length} bytes`);
  const t0 = performance.now();
  const hangsBefore = stats.hangs.length;
  const code = await new Promise<number | undefined>((resolve) => {
    ws.once('close', (c) => resolve(c));
    ws.send(sluiceFrame(FrameType.SignalDiff, payload));
    stats.framesSent++;
    setTimeout(() => resolve(undefined), 60_000);
  });
  countClose(code);
  ws.terminate();
  bigDeep = `${payload.length} bytes: ${code === undefined ? 'not closed within 60 s' : `closed with ${code}`} after ${(performance.now() - t0).toFixed(0)} ms; ${stats.hangs.length - hangsBefore} hang(s) meanwhile`;
}
await Promise.all([...Array.from({ length: CONCURRENCY }, () => worker()), bigDeepOnce()]);
await checkCrash();
await sleep(500);
// The good channel must still flow at the end.
const endN = live.n;
const endBy = performance.now() + 5000;
while ((live.good.state.n as number) < endN && performance.now() < endBy) await sleep(20);
const goodAtEnd = (live.good.state.n as number) >= endN;
const rssAfter = live.relay.exit ? 'n/a (the relay had just crashed)' : `${rssKiB(live.relay.pid)} KiB`;
if (live.relay.exit) await checkCrash();
const healthy = (() => {
  try {
    live.relay.assertHealthy();
    return 'yes';
  } catch (e) {
    return (e as Error).message.split('\n').slice(0, 3).join(' / ');
  }
})();
stopLive(live);
live.relay.kill();

const elapsed = (performance.now() - started) / 1000;
const rows: Array<[string, string]> = [
  ['seed', String(SEED)],
  ['duration', `${elapsed.toFixed(1)} s`],
  ['frames sent', String(stats.framesSent)],
  ['connections', `${stats.connections} (and ${stats.handshakeFailures} attempts that failed, e.g. while the relay was down)`],
  ...[...stats.closeCodes].sort((a, b) => a[0].localeCompare(b[0])).map(([c, n]): [string, string] => [`  close ${c}`, String(n)]),
  ['undocumented close codes', stats.undocumented.size === 0 ? '0' : JSON.stringify(Object.fromEntries(stats.undocumented))],
  ['refusals with a wrong code', String([...stats.wrongRefusals.values()].reduce((a, b) => a + b, 0))],
  ['crashes (relay exits)', String(stats.crashes.length)],
  ['hangs (> 2 s silent)', String(stats.hangs.length)],
  ['longest /healthz', `${stats.longestHealthzMs.toFixed(0)} ms`],
  ['longest good-channel gap', `${stats.longestGoodGapMs.toFixed(0)} ms`],
  ['fuzzer event-loop max lag', `${stats.fuzzerLagMs.toFixed(0)} ms (silences over 2 s excused by it: ${stats.excusedSilences} checks)`],
  ['16 MiB-class deep JSON diff', bigDeep],
  ['good channel flowing at end', goodAtEnd ? 'yes' : 'NO'],
  ['bad frames forwarded', String(badFrames.length)],
  ['relay healthy, no error logs (last relay)', healthy],
  ['relay RSS before', `${rssBefore} KiB`],
  ['relay RSS after', rssAfter],
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log('\nsluice fuzz summary');
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
const listed = (title: string, xs: string[]) => {
  if (xs.length === 0) return;
  console.log(`\n${title}:`);
  const counts = new Map<string, number>();
  for (const x of xs) bump(counts, x.split('; recent:')[0]!);
  for (const [x, n] of counts) console.log(`  ${n}× ${x}`);
  console.log(`  first: ${xs[0]}`);
};
listed('crashes', stats.crashes);
listed('hangs', stats.hangs);
listed('bad frames forwarded', badFrames.slice(0, 50));
if (stats.wrongRefusals.size > 0) {
  console.log('\nrefusals with a wrong code:');
  for (const [k, n] of stats.wrongRefusals) console.log(`  ${n}× ${k}`);
}
const failed = stats.crashes.length > 0 || stats.hangs.length > 0 || badFrames.length > 0 || stats.undocumented.size > 0 || !goodAtEnd || healthy !== 'yes';
console.log(failed ? '\nFAIL' : '\nPASS');
process.exit(failed ? 1 : 0);
