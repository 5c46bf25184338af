/**
 * Sluice-only measurements that go with the fan-out table (run by `npm run bench`, or alone:
 * `node --import tsx bench/fanout/sluice-extras.ts`). The relay runs as `sluice relay` pinned to
 * core 0; this process is the load, pinned to core 1 by the orchestrator.
 *
 *  - late-join catch-up: connect → first state, after 10 and 100,000 diffs of history, and with
 *    1,000 receivers joining at once
 *  - select: payload bytes per receiver selecting 1 of 20 fields vs all fields
 *  - memory: relay RSS (and live heap after GC) with 10,000 idle receivers across 100 channels
 *  - slow receiver: 1 of 1,000 stops reading for 30 s; p99 of the other 999 at 200 msgs/s
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import { RawWsClient } from './raw-ws-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const slowSeconds = Number(process.env.BENCH_SLOW_SECONDS ?? 30);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function relay(transport: 'ws' | 'uws' = 'ws'): Promise<{ child: ChildProcess; port: number; stats: (gc?: boolean) => Promise<{ memory: Record<string, number>; totals: Record<string, number> }> }> {
  const port = await freePort();
  const args = ['--expose-gc', `${ROOT}bin/sluice.js`, 'relay', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'silent', '--max-frames-per-second', '100000000', '--max-receivers', '1000000', '--transport', transport];
  const child = existsSync('/usr/bin/taskset') ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve) => child.stderr!.on('data', (d: Buffer) => /listening/.test(d.toString()) && resolve()));
  const stats = async (gc = false) => (await (await fetch(`http://127.0.0.1:${port}/api/stats${gc ? '?gc=1' : ''}`)).json()) as { memory: Record<string, number>; totals: Record<string, number> };
  return { child, port, stats };
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const HELLO = encodeFrame({ type: FrameType.Hello }, Buffer.from('{"client":"bench"}'));
const diff = (json: string) => encodeFrame({ type: FrameType.SignalDiff }, Buffer.from(json));
const sync = (json: string) => encodeFrame({ type: FrameType.SignalSync, flags: 2 }, Buffer.from(json));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
}

/** Time from opening a receiver to its first SignalSync. */
async function timeToState(port: number, channel: string): Promise<number> {
  const t0 = performance.now();
  let done: (v: number) => void;
  const p = new Promise<number>((r) => (done = r));
  const c = await RawWsClient.open('127.0.0.1', port, `/stream/${channel}`, (_op, f) => {
    if (f[0] === FrameType.SignalSync) done(performance.now() - t0);
  });
  // Like the SDK: a Hello right after opening (the relay sends the catch-up once it has read the
  // receiver's first frame, so a Hello's select or resume shapes it).
  c.sendBinary(HELLO);
  const ms = await p;
  c.close();
  return ms;
}

async function lateJoin(): Promise<void> {
  const r = await relay();
  const src = await RawWsClient.open('127.0.0.1', r.port, '/source/history', () => {});
  src.sendBinary(sync(JSON.stringify(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i])))));
  const rows: string[] = [];
  let sent = 0;
  for (const target of [10, 100_000]) {
    src.socket.cork();
    for (; sent < target; sent++) src.sendBinary(diff(`{"f${sent % 20}":${sent}}`));
    src.socket.uncork();
    // Wait until the relay has applied everything.
    while (((await r.stats()).totals.framesIn ?? 0) < sent + 1) await sleep(50);
    const times: number[] = [];
    for (let i = 0; i < 20; i++) times.push(await timeToState(r.port, 'history'));
    rows.push(`| ${target.toLocaleString('en-US')} diffs of history | ${pct(times, 0.5).toFixed(2)} | ${pct(times, 0.99).toFixed(2)} |`);
  }
  // 1,000 receivers joining at once.
  const t0 = performance.now();
  const firsts: number[] = [];
  const clients = await Promise.all(
    Array.from({ length: 1000 }, () =>
      RawWsClient.open('127.0.0.1', r.port, '/stream/history', (_op, f) => {
        if (f[0] === FrameType.SignalSync) firsts.push(performance.now() - t0);
      }).then((c) => {
        c.sendBinary(HELLO);
        return c;
      }),
    ),
  );
  while (firsts.length < 1000) await sleep(10);
  rows.push(`| 1,000 receivers joining at once (100,000 diffs of history) | ${pct(firsts, 0.5).toFixed(2)} | ${pct(firsts, 0.99).toFixed(2)} (max ${Math.max(...firsts).toFixed(1)}) |`);
  for (const c of clients) c.close();
  src.close();
  r.child.kill('SIGKILL');
  console.log('### Late-join catch-up (connect → first state)\n\n| history | p50 ms | p99 ms |\n|---|---:|---:|');
  for (const row of rows) console.log(row);
  console.log('\nA joiner always gets ONE SignalSync of the merged state, so the time does not grow with the history.\n');
}

async function selectBytes(): Promise<void> {
  const r = await relay();
  const src = await RawWsClient.open('127.0.0.1', r.port, '/source/sel', () => {});
  const fields = Array.from({ length: 20 }, (_, i) => `field${i}`);
  src.sendBinary(sync(JSON.stringify(Object.fromEntries(fields.map((f) => [f, 0])))));
  const bytes = { one: 0, all: 0 };
  const json = { one: 0, all: 0 };
  const counters = await Promise.all(
    [
      ['one', '/stream/sel?select=field7'],
      ['all', '/stream/sel'],
    ].map(async ([name, path]) => {
      const c = await RawWsClient.open('127.0.0.1', r.port, path!, (_op, f) => {
        if (f[0] === FrameType.SignalDiff) {
          bytes[name as 'one' | 'all'] += f.length;
          json[name as 'one' | 'all'] += f.length - 16;
        }
      });
      return c;
    }),
  );
  await sleep(200);
  // 2,000 diffs, each changing all 20 fields (a busy state).
  for (let i = 1; i <= 2000; i++) src.sendBinary(diff(JSON.stringify(Object.fromEntries(fields.map((f) => [f, i * 1000 + f.length])))));
  await sleep(1500);
  console.log('### Select at the relay (2,000 diffs, each touching all 20 fields)\n\n| receiver | JSON payload bytes | ratio | wire bytes incl. 16-byte headers | ratio |\n|---|---:|---:|---:|---:|');
  console.log(`| all 20 fields | ${json.all.toLocaleString('en-US')} | 1 | ${bytes.all.toLocaleString('en-US')} | 1 |`);
  console.log(`| select=field7 (1 of 20) | ${json.one.toLocaleString('en-US')} | 1/${(json.all / json.one).toFixed(1)} | ${bytes.one.toLocaleString('en-US')} | 1/${(bytes.all / bytes.one).toFixed(1)} |\n`);
  for (const c of counters) c.close();
  src.close();
  r.child.kill('SIGKILL');
}

async function idleMemory(transport: 'ws' | 'uws'): Promise<void> {
  const r = await relay(transport);
  await sleep(300);
  const before = await r.stats(true);
  const rss0 = rssOf(r.child.pid!);
  const N = 10_000;
  const clients: RawWsClient[] = [];
  for (let i = 0; i < N; i += 100) clients.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => RawWsClient.open('127.0.0.1', r.port, `/stream/idle${(i + k) % 100}`, () => {})))));
  await sleep(1500);
  const after = await r.stats(true);
  const rss1 = rssOf(r.child.pid!);
  const live = (m: Record<string, number>) => m.heapUsed! + m.external!;
  console.log(`### Memory with 10,000 idle receivers across 100 channels (--transport ${transport})\n\n| measure | total MB | per receiver KB |\n|---|---:|---:|`);
  console.log(`| relay RSS growth | ${((rss1 - rss0) / 1e6).toFixed(1)} | ${((rss1 - rss0) / N / 1024).toFixed(2)} |`);
  console.log(`| live JS heap + external after GC | ${((live(after.memory) - live(before.memory)) / 1e6).toFixed(1)} | ${((live(after.memory) - live(before.memory)) / N / 1024).toFixed(2)} |\n`);
  for (const c of clients) c.close();
  r.child.kill('SIGKILL');
}

async function slowReceiver(): Promise<void> {
  const r = await relay();
  const N = 1000;
  const sendTimes: number[] = [];
  const lat: number[][] = [[], []];
  let phase = 0;
  const receivers = await (async () => {
    const out: Array<{ c: RawWsClient; n: number }> = [];
    for (let i = 0; i < N; i += 100)
      out.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, async () => {
            const rec = { c: undefined as unknown as RawWsClient, n: 0 };
            rec.c = await RawWsClient.open('127.0.0.1', r.port, '/stream/slow?batch=1', (_op, f) => {
              if (f[0] !== FrameType.SignalDiff) return;
              const now = performance.now();
              // {"n":<index>,…}
              let v = 0;
              for (let i = 21; i < f.length && f[i]! >= 48 && f[i]! <= 57; i++) v = v * 10 + f[i]! - 48;
              const t = sendTimes[v];
              if (t !== undefined && rec !== receivers?.[0]) lat[phase]!.push(now - t);
              rec.n++;
            });
            return rec;
          }),
        )),
      );
    return out;
  })();
  const src = await RawWsClient.open('127.0.0.1', r.port, '/source/slow', () => {});
  src.sendBinary(sync('{"n":-1}'));
  await sleep(1000);
  let i = 0;
  const run = async (ms: number) => {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      sendTimes[i] = performance.now();
      src.sendBinary(diff(`{"n":${i},"pad":"${'x'.repeat(60)}"}`));
      i++;
      await sleep(5);
    }
  };
  await run(10_000);
  phase = 1;
  receivers[0]!.c.pause(); // stops reading
  await run(slowSeconds * 1000);
  const stats = await r.stats();
  receivers[0]!.c.resume();
  await sleep(1000);
  console.log(`### One slow receiver among 1,000 (200 msgs/s; it stops reading for ${slowSeconds} s)\n\n| phase | p50 ms (other 999) | p99 ms (other 999) |\n|---|---:|---:|`);
  console.log(`| all reading | ${pct(lat[0]!, 0.5).toFixed(2)} | ${pct(lat[0]!, 0.99).toFixed(2)} |`);
  console.log(`| one stalled | ${pct(lat[1]!, 0.5).toFixed(2)} | ${pct(lat[1]!, 0.99).toFixed(2)} |`);
  console.log(`\nDiffs conflated for the stalled receiver: ${stats.totals.conflatedDiffs}; it was never disconnected.\n`);
  for (const rec of receivers) rec.c.close();
  src.close();
  r.child.kill('SIGKILL');
}

console.log('## Sluice-only measurements\n');
await lateJoin();
await selectBytes();
await idleMemory('ws');
await idleMemory('uws');
await slowReceiver();
process.exit(0);
