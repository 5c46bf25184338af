/**
 * Fan-out benchmark: one source → N receivers, small (~100 B) messages, Sluice against minimal
 * peer relays, all in one run. Each system runs pinned to core 0, the load generator to core 1.
 *
 *   npm run bench                       # N = 100, 1000, 5000; every peer available
 *   BENCH_N=1000 BENCH_TARGETS=sluice,uws-batched npm run bench
 *   BENCH_EXTRAS=0 npm run bench        # skip the Sluice-only measurements
 *
 * The load is `native/load-generator.c` (compiled with `cc` at the start of the run): one source and
 * N receivers on one epoll loop, so that the relays — not the load — are what saturates.
 *
 * Columns: delivered msgs/s at saturation; p50/p99 source→receiver latency at a fixed 200 msgs/s;
 * server CPU and RSS at saturation; RSS per idle receiver; load-generator CPU; which side
 * saturated; and Sluice/peer ratios.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGenerator } from './build-generator.js';
import type { LoadConfig, LoadResult } from './load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const NODE = process.execPath;
const hasTaskset = existsSync('/usr/bin/taskset');
const natsBin = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));

const Ns = (process.env.BENCH_N ?? '100,1000,5000').split(',').map(Number);
const ALL = ['sluice', 'sluice-uws', 'uws-batched', 'uws-plain', 'ws-batched', 'nats', 'ws-naive', 'socketio'];
const targets = (process.env.BENCH_TARGETS?.split(',') ?? ALL).filter((t) => t !== 'nats' || natsBin);
const satMs = Number(process.env.BENCH_SAT_MS ?? 5000);
const window = Number(process.env.BENCH_WINDOW ?? 500);
const latencyRate = Number(process.env.BENCH_LAT_RATE ?? 200);

const spin = process.env.BENCH_SPIN === '1';
/** Node flags for the Sluice relay, e.g. `--perf-basic-prof` to profile it with `perf`. */
const relayNodeArgs = process.env.BENCH_RELAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

let generator = '';

const pinned = (core: number, cmd: string, args: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args]);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return NaN;
  }
}

async function startServer(target: string, port: number): Promise<ChildProcess> {
  let cmd: string;
  let args: string[];
  let ready: RegExp;
  if (target === 'sluice' || target === 'sluice-uws') {
    // The relay as users run it, with the inbound rate limit raised for a saturating source.
    [cmd, args] = pinned(0, NODE, [...relayNodeArgs, join(ROOT, 'bin/sluice.js'), 'relay', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'silent', '--max-frames-per-second', '100000000', '--max-receivers', '1000000', '--transport', target === 'sluice-uws' ? 'uws' : 'ws']);
    ready = /listening on/;
  } else if (target === 'nats') {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-nats-'));
    const conf = join(dir, 'nats.conf');
    writeFileSync(conf, `listen: 127.0.0.1:${await freePort()}\nwebsocket {\n  listen: "127.0.0.1:${port}"\n  no_tls: true\n  compression: false\n}\nmax_pending: 268435456\n`);
    [cmd, args] = pinned(0, natsBin!, ['-c', conf]);
    ready = /Server is ready/;
  } else {
    const [file, mode] = target.startsWith('uws') ? ['uws.ts', target.slice(4)] : [`${target}.ts`, ''];
    [cmd, args] = pinned(0, NODE, ['--import', 'tsx', join(HERE, 'servers', file), String(port), mode]);
    ready = /ready/;
  }
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`${target} did not start: ${out}`)), 20_000);
    const on = (c: Buffer) => {
      out += c.toString();
      if (ready.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => reject(new Error(`${target} exited (${code}): ${out}`)));
  });
  return child;
}

interface Row extends LoadResult {
  latencyServerCpuPercent: number;
  serverCpuPercent: number;
  serverRssMb: number;
  idleRssPerReceiverKb: number;
  saturated: string;
}

async function runOne(target: string, n: number): Promise<Row> {
  const port = await freePort();
  const server = await startServer(target, port);
  const pid = server.pid!;
  await new Promise((r) => setTimeout(r, 300));
  const rss0 = rssBytes(pid);
  const cfg: LoadConfig = { target, host: '127.0.0.1', port, n, window, latencyRate, latencyMs: 5000, warmMs: 2000, satMs, generator, spin };
  const [cmd, args] = pinned(1, NODE, ['--import', 'tsx', join(HERE, 'load.ts'), JSON.stringify(cfg)]);
  const load = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let rssIdle = NaN;
  let latCpu0 = 0;
  let latT0 = 0;
  let latCpuPct = NaN;
  let cpu0 = 0;
  let t0 = 0;
  let cpuPct = NaN;
  let rssSat = NaN;
  const result = await new Promise<LoadResult>((resolve) => {
    const timer = setTimeout(() => resolve({ target, n, error: 'timed out' } as LoadResult), 180_000);
    load.on('message', (m: { phase?: string; result?: LoadResult }) => {
      if (m.phase === 'idle') rssIdle = rssBytes(pid);
      if (m.phase === 'lat-start') {
        latCpu0 = cpuSeconds(pid);
        latT0 = performance.now();
      }
      if (m.phase === 'lat-end') latCpuPct = ((cpuSeconds(pid) - latCpu0) / ((performance.now() - latT0) / 1000)) * 100;
      if (m.phase === 'sat-start') {
        cpu0 = cpuSeconds(pid);
        t0 = performance.now();
      }
      if (m.phase === 'sat-end') {
        cpuPct = ((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
        rssSat = rssBytes(pid);
      }
      if (m.phase === 'sat-end' && target.startsWith('sluice') && process.env.BENCH_DEBUG) {
        // The relay's own counters (conflations, frames out) before the load goes away.
        void fetch(`http://127.0.0.1:${port}/api/stats`)
          .then(async (r) => process.stderr.write(`${target} totals: ${JSON.stringify(((await r.json()) as { totals: unknown }).totals)}\n`))
          .finally(() => load.send({ ack: m.phase }));
      } else if (m.phase) load.send({ ack: m.phase });
      if (m.result) {
        clearTimeout(timer);
        resolve(m.result);
      }
    });
    load.on('exit', () => setTimeout(() => resolve({ target, n, error: 'load generator exited' } as LoadResult), 100));
  });
  load.kill('SIGKILL');
  server.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  const loadCpu = result.saturation?.loadCpuPercent ?? NaN;
  const saturated = cpuPct >= 85 ? 'server' : loadCpu >= 85 ? 'load' : 'window';
  // Growth under 2 MB is within the noise of a runtime's own heap (GC can even shrink RSS).
  const grown = rssIdle - rss0;
  return { ...result, latencyServerCpuPercent: latCpuPct, serverCpuPercent: cpuPct, serverRssMb: rssSat / 1e6, idleRssPerReceiverKb: grown < 2 * 1024 * 1024 ? NaN : grown / n / 1024, saturated };
}

const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');
const mps = (x: number) => (Number.isFinite(x) ? `${(x / 1e6).toFixed(2)} M` : '—');

async function main(): Promise<void> {
  generator = buildGenerator();
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# Sluice fan-out benchmark\n\n${new Date().toISOString()} · ${cpuModel} · ${cpus().length} cores · Node ${process.version} · ${hasTaskset ? 'server on core 0, load on core 1' : 'no taskset: unpinned'}`);
  console.log(`Messages of ~100 B; saturation = ${satMs / 1000} s with ≤ ${window} messages in flight; latency at ${latencyRate} msgs/s for 5 s.\n`);
  if (!natsBin) console.log('(nats-server not installed: NATS skipped)\n');
  const all: Row[] = [];
  for (const n of Ns) {
    const rows: Row[] = [];
    for (const target of targets) {
      process.stderr.write(`… ${target} N=${n}\n`);
      let row: Row;
      try {
        row = await runOne(target, n);
      } catch (e) {
        row = { target, n, error: (e as Error).message } as Row;
      }
      rows.push(row);
      all.push(row);
    }
    const sl = rows.find((r) => r.target === 'sluice');
    console.log(`## N = ${n.toLocaleString('en-US')} receivers\n`);
    console.log(`| system | delivered msgs/s | Sluice ÷ system | server CPU % | deliveries per server CPU-second | Sluice ÷ system (per CPU-s) | load CPU % | saturated | p50 ms @${latencyRate}/s | p99 ms @${latencyRate}/s | server CPU % @${latencyRate}/s | server RSS MB | RSS / idle receiver KB |`);
    console.log('|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
    const perCpu = (r: Row) => r.saturation.perSecond / (r.serverCpuPercent / 100);
    for (const r of rows) {
      if (r.error) {
        console.log(`| ${r.target} | error: ${r.error.slice(0, 80)} | | | | | | | | | | | |`);
        continue;
      }
      const ratio = sl && !sl.error && r.target !== 'sluice' ? `${(sl.saturation.perSecond / r.saturation.perSecond).toFixed(2)}×` : '';
      const cpuRatio = sl && !sl.error && r.target !== 'sluice' ? `${(perCpu(sl) / perCpu(r)).toFixed(2)}×` : '';
      console.log(
        `| ${r.target} | ${mps(r.saturation.perSecond)} | ${ratio} | ${fmt(r.serverCpuPercent)} | ${mps(perCpu(r))} | ${cpuRatio} | ${fmt(r.saturation.loadCpuPercent)} | ${r.saturated} | ${fmt(r.latency.p50, 2)} | ${fmt(r.latency.p99, 2)} | ${fmt(r.latencyServerCpuPercent)} | ${fmt(r.serverRssMb, 1)} | ${fmt(r.idleRssPerReceiverKb, 1)} |`,
      );
    }
    const lost = rows.filter((r) => !r.error && r.latency.samples < r.latency.expected);
    if (lost.length) console.log(`\nLatency samples short of expected (messages lost or late): ${lost.map((r) => `${r.target} ${r.latency.samples}/${r.latency.expected}`).join(', ')}`);
    console.log('');
  }
  writeFileSync(join(tmpdir(), 'sluice-fanout-results.json'), JSON.stringify(all, null, 2));
  if (process.env.BENCH_EXTRAS !== '0') {
    const [cmd, args] = pinned(1, NODE, ['--import', 'tsx', join(HERE, 'sluice-extras.ts')]);
    execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  }
}

await main();
