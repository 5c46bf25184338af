/**
 * Cluster benchmark (issue #12): one source → N receivers (1,000 by default) spread over two relay
 * nodes sharing one Redis, against the same N receivers on one node — Sluice with `--engine redis`
 * (and `--engine memory` for reference), and Socket.IO with `@socket.io/redis-adapter`, the peer a
 * user would pick. One run, printed as a self-contained markdown report with ratios.
 *
 *   npm run bench:cluster
 *   BENCH_N=1000 BENCH_CLUSTER_TARGETS=sluice-redis,sluice-redis-2 npm run bench:cluster
 *   BENCH_REDIS_URL=redis://127.0.0.1:6379 npm run bench:cluster   # an existing Redis, not a private one
 *
 * The load is the fan-out benchmark's (`bench/fanout/load.ts`, the C generator): with two nodes the
 * source connects to node A, the first half of the receivers to A and the second half to B, so
 * B's receivers get every message through Redis — their latency is reported apart. Per row:
 * delivered msgs/s at saturation, p50/p99 at a fixed 200 msgs/s (all receivers, A's, B's), each
 * process's CPU at saturation (and deliveries per node CPU-second, which a busy machine disturbs
 * less than throughput), Redis commands per published update (MONITOR during a gentle
 * phase of 20 msgs/s that every system keeps up with, so the update count is exact: commands the
 * nodes sent — round trips — and commands run inside their scripts) and Redis commands run per second at saturation
 * (`INFO commandstats`).
 *
 * Redis: a private `redis-server` on a free port by default (so that the command counts are this
 * run's alone); every run uses its own key prefix and deletes only that prefix's keys afterwards.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCRIPTS } from '../../src/relay/engines/redis-scripts.js';
import { buildGenerator } from '../fanout/build-generator.js';
import type { LoadConfig, LoadResult } from '../fanout/load.js';
import { commandDelta, commandStats, deleteKeys, loadScripts, redisVersion, startMonitor, startPrivateRedis } from './redis-stats.js';
import type { MonitorCounts } from './redis-stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const NODE = process.execPath;

/**
 * How to run a TypeScript helper process: through tsx, or — with BENCH_PREBUNDLED=1, for a machine
 * without the project's node_modules (scripts/bundle-bench.mjs) — the bundled .js beside it.
 */
function script(path: string): string[] {
  return process.env.BENCH_PREBUNDLED === '1' ? [path.replace(/\.ts$/, '.js')] : ['--import', 'tsx', path];
}

const n = Number(process.env.BENCH_N ?? 1000);
const satMs = Number(process.env.BENCH_SAT_MS ?? 5000);
const window = Number(process.env.BENCH_WINDOW ?? 500);
const latencyRate = Number(process.env.BENCH_LAT_RATE ?? 200);
const latencyMs = 5000;
/** The gentle phase where Redis commands are counted: every system keeps up with it. */
const count = { rate: Number(process.env.BENCH_COUNT_RATE ?? 20), ms: 5000 };
/**
 * Whether to put the Redis engine's scripts in Redis's script cache before each Sluice run. The
 * engine loads them itself when it connects (a cold cache once closed sources: writes pipelined as
 * EVALSHA were retried as EVAL out of order; fixed, test/cluster/cluster-scripts.test.ts), so the
 * default is a cold cache, as in production; BENCH_PRELOAD_SCRIPTS=1 preloads them.
 */
const preloadScripts = process.env.BENCH_PRELOAD_SCRIPTS === '1';

/** A system under test: how to start one node, and how many nodes. */
interface Target {
  name: string;
  /** The adapter of `bench/fanout/adapters.ts` the generator speaks. */
  adapter: 'sluice' | 'socketio';
  nodes: 1 | 2;
  redis: boolean;
  label: string;
}

const ALL: Target[] = [
  { name: 'sluice-memory', adapter: 'sluice', nodes: 1, redis: false, label: 'Sluice, engine memory, 1 node' },
  { name: 'sluice-redis', adapter: 'sluice', nodes: 1, redis: true, label: 'Sluice, engine redis, 1 node' },
  { name: 'sluice-redis-2', adapter: 'sluice', nodes: 2, redis: true, label: 'Sluice, engine redis, 2 nodes' },
  { name: 'socketio', adapter: 'socketio', nodes: 1, redis: false, label: 'Socket.IO, no adapter, 1 node' },
  { name: 'socketio-redis', adapter: 'socketio', nodes: 1, redis: true, label: 'Socket.IO + redis-adapter, 1 node' },
  { name: 'socketio-redis-2', adapter: 'socketio', nodes: 2, redis: true, label: 'Socket.IO + redis-adapter, 2 nodes' },
];
const wanted = process.env.BENCH_CLUSTER_TARGETS?.split(',');
const targets = wanted ? ALL.filter((t) => wanted.includes(t.name)) : ALL;

// Core layout. With 4 cores or more each node, Redis and the load get a core of their own, so
// two nodes have twice the CPU of one — the point of scaling out. With 2–3, the nodes share core
// 0 and Redis shares core 1 with the load: two nodes then cost more than one, and the numbers
// show the price of the Redis hop, not a gain.
const hasTaskset = existsSync('/usr/bin/taskset');
const cores = cpus().length;
const layout = !hasTaskset || cores < 2 ? null : cores >= 4 ? { a: 0, b: 1, redis: 2, load: 3 } : { a: 0, b: 0, redis: 1, load: 1 };
const pinned =
  (core: number | undefined) =>
  (cmd: string, args: string[]): [string, string[]] =>
    layout && core !== undefined ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in ticks of 1/100 s
  } catch {
    return NaN;
  }
}

/** A node's process and the tail of what it printed (shown when a run fails). */
interface NodeProcess {
  child: ChildProcess;
  output: () => string;
}

async function startNode(t: Target, port: number, core: number, redisUrl: string, prefix: string): Promise<NodeProcess> {
  let args: string[];
  if (t.adapter === 'sluice') {
    // As users run it, with the inbound rate limit raised for a saturating source.
    const engine = t.redis ? ['--engine', 'redis', '--redis-url', redisUrl, '--redis-prefix', prefix] : ['--engine', 'memory'];
    args = [join(ROOT, 'bin/sluice.js'), 'relay', '--port', String(port), '--host', '127.0.0.1', '--log-level', process.env.BENCH_LOG_LEVEL ?? 'warn', '--max-frames-per-second', '100000000', '--max-receivers', '1000000', ...engine];
  } else if (t.redis) {
    args = [...script(join(HERE, 'socketio-redis.ts')), String(port), redisUrl, prefix];
  } else {
    args = [...script(join(ROOT, 'bench/fanout/servers/socketio.ts')), String(port)];
  }
  const [cmd, cargs] = pinned(core)(NODE, args);
  const child = spawn(cmd, cargs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = t.adapter === 'sluice' ? /listening on/ : /ready/;
  let out = '';
  const exit = { code: null as number | null, signal: null as string | null };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${t.name} did not start: ${out}`)), 20_000);
    const on = (c: Buffer) => {
      out = (out + c.toString()).slice(-4000);
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code, signal) => {
      exit.code = code;
      exit.signal = signal;
      reject(new Error(`${t.name} exited (${code}): ${out}`));
    });
  });
  return { child, output: () => `${exit.code !== null || exit.signal ? `exited (${exit.code ?? exit.signal}) ` : ''}${out}` };
}

interface Row {
  t: Target;
  result?: LoadResult;
  error?: string;
  /** CPU % of node A, node B, Redis at saturation. */
  cpu: { a: number; b: number; redis: number };
  /** Redis commands per published update at the fixed rate; commands run per second at saturation. */
  redis?: { sent: number; inScripts: number; breakdown: string; satPerSecond: number; satBreakdown: string };
}

async function runOne(t: Target, generator: string, redis: { url: string; pid: number | undefined }, runPrefix: string): Promise<Row> {
  const prefix = `${runPrefix}-${t.name}`;
  const ports = [await freePort(), await freePort()];
  const nodes: NodeProcess[] = [];
  const row: Row = { t, cpu: { a: NaN, b: NaN, redis: NaN } };
  let load: ChildProcess | undefined;
  try {
    if (t.redis && t.adapter === 'sluice' && preloadScripts) await loadScripts(redis.url, Object.values(SCRIPTS));
    nodes.push(await startNode(t, ports[0]!, layout?.a ?? 0, redis.url, prefix));
    if (t.nodes === 2) nodes.push(await startNode(t, ports[1]!, layout?.b ?? 0, redis.url, prefix));
    await new Promise((r) => setTimeout(r, 300));
    const cfg: LoadConfig = {
      target: t.adapter,
      host: '127.0.0.1',
      port: ports[0]!,
      ...(t.nodes === 2 ? { port2: ports[1]! } : {}),
      n,
      window,
      latencyRate,
      latencyMs,
      warmMs: 2000,
      satMs,
      generator,
      spin: false,
      ...(t.redis ? { count } : {}),
    };
    const [cmd, args] = pinned(layout?.load)(NODE, [...script(join(ROOT, 'bench/fanout/load.ts')), JSON.stringify(cfg)]);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    load = child;
    const pids = [nodes[0]?.child.pid, nodes[1]?.child.pid, t.redis ? redis.pid : undefined];
    let cpu0: number[] = [];
    let t0 = 0;
    let cmds0 = new Map<string, number>();
    let monitor: Awaited<ReturnType<typeof startMonitor>> | undefined;
    let counted: MonitorCounts | undefined;
    let satCmds = new Map<string, number>();
    let satSeconds = NaN;
    const result = await new Promise<LoadResult>((resolve) => {
      const timer = setTimeout(() => resolve({ error: 'timed out' } as LoadResult), 120_000);
      child.on('message', (m: { phase?: string; result?: LoadResult }) => {
        void (async () => {
          if (m.phase === 'count-start') monitor = await startMonitor(redis.url, prefix);
          if (m.phase === 'count-end' && monitor) counted = await monitor.stop();
          if (m.phase === 'sat-start' && t.redis) cmds0 = await commandStats(redis.url);
          if (m.phase === 'sat-start') {
            cpu0 = pids.map(cpuSeconds);
            t0 = performance.now();
          }
          if (m.phase === 'sat-end') {
            const s = (satSeconds = (performance.now() - t0) / 1000);
            const [a, b, r] = pids.map((p, i) => ((cpuSeconds(p) - cpu0[i]!) / s) * 100);
            row.cpu = { a: a!, b: b!, redis: r! };
            if (t.redis) satCmds = commandDelta(cmds0, await commandStats(redis.url));
          }
          if (m.phase) child.send({ ack: m.phase });
          if (m.result) {
            clearTimeout(timer);
            resolve(m.result);
          }
        })();
      });
      child.on('exit', () => setTimeout(() => resolve({ error: 'load generator exited' } as LoadResult), 100));
    });
    if (result.error) {
      row.error = result.error;
      nodes.forEach((nd, i) => process.stderr.write(`${t.name} node ${'AB'[i]}: ${nd.output() || '(no output)'}\n`));
    } else {
      row.result = result;
      if (t.redis && counted) {
        const published = Math.round((count.rate * count.ms) / 1000);
        const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
        const list = (m: Map<string, number>) =>
          [...m]
            .sort((x, y) => y[1] - x[1])
            .map(([c, k]) => `${c} ${(k / published).toFixed(2)}`)
            .join(', ') || 'none';
        const breakdown = `sent: ${list(counted.sent)}; inside scripts: ${list(counted.inScripts)}`;
        const satBreakdown = [...satCmds]
          .sort((x, y) => y[1] - x[1])
          .map(([c, k]) => `${c} ${fmt(k / satSeconds)}`)
          .join(', ');
        row.redis = { sent: sum(counted.sent) / published, inScripts: sum(counted.inScripts) / published, breakdown, satPerSecond: sum(satCmds) / satSeconds, satBreakdown };
      }
    }
  } catch (e) {
    row.error = (e as Error).message;
  } finally {
    load?.kill('SIGKILL');
    for (const nd of nodes) nd.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    if (t.redis) await deleteKeys(redis.url, prefix).catch(() => 0);
  }
  return row;
}

const fmt = (x: number | undefined, d = 0) => (x !== undefined && Number.isFinite(x) && x >= 0 ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');
const mps = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${(x / 1e6).toFixed(3)} M` : '—');
const ratio = (x: number | undefined, y: number | undefined) => (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && y > 0 && x >= 0 ? `${(x / y).toFixed(2)}×` : '—');

function report(rows: Row[], facts: string[]): void {
  const by = (name: string) => rows.find((r) => r.t.name === name && r.result);
  console.log(`## Cluster: one source → ${n.toLocaleString('en-US')} receivers, two nodes vs one\n`);
  for (const f of facts) console.log(`- ${f}`);
  console.log('');
  console.log(`| system | delivered msgs/s | per receiver msgs/s | p50 ms @${latencyRate}/s | p99 ms @${latencyRate}/s | p99 ms on node A | p99 ms on node B (via Redis) | samples / expected | CPU % node A | CPU % node B | CPU % Redis | deliveries per node CPU-second | Redis round trips / update | Redis cmds run / update (incl. in scripts) | Redis cmds run / s at saturation |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const x = r.result;
    if (!x) {
      console.log(`| ${r.t.label} | error: ${(r.error ?? '').slice(0, 100).replace(/\|/g, '/')} | | | | | | | | | | | | | |`);
      continue;
    }
    const [ga, gb] = x.groups;
    const two = r.t.nodes === 2;
    console.log(
      `| ${r.t.label} | ${mps(x.saturation.perSecond)} | ${fmt(x.saturation.perSecond / n)} | ${fmt(x.latency.p50, 2)} | ${fmt(x.latency.p99, 2)} | ${fmt(ga?.p99, 2)} | ${two ? fmt(gb?.p99, 2) : ''} | ${x.latency.samples.toLocaleString('en-US')} / ${x.latency.expected.toLocaleString('en-US')} | ${fmt(r.cpu.a)} | ${two ? fmt(r.cpu.b) : ''} | ${r.t.redis ? fmt(r.cpu.redis) : ''} | ${mps(x.saturation.perSecond / ((r.cpu.a + (two ? r.cpu.b : 0)) / 100))} | ${r.redis ? fmt(r.redis.sent, 2) : ''} | ${r.redis ? fmt(r.redis.sent + r.redis.inScripts, 2) : ''} | ${r.redis ? fmt(r.redis.satPerSecond) : ''} |`,
    );
  }
  const withCmds = rows.filter((r) => r.redis);
  if (withCmds.length) {
    console.log(`\nRedis commands per published update during a phase at ${count.rate} msgs/s for ${count.ms / 1000} s, before the latency phase (MONITOR, commands naming this run's keys or channels; heartbeats included):\n`);
    for (const r of withCmds) console.log(`- ${r.t.label}: ${r.redis!.breakdown}`);
    console.log(`\nRedis commands run per second at saturation (INFO commandstats; a snapshot — a node rereading the channel — shows as lrange):\n`);
    for (const r of withCmds) console.log(`- ${r.t.label}: ${r.redis!.satBreakdown || 'none'}`);
  }
  console.log('\n### Ratios\n');
  console.log('| comparison | delivered msgs/s | p99 @200/s |');
  console.log('|---|---:|---:|');
  const pair = (label: string, x: string, y: string) => {
    const a = by(x)?.result;
    const b = by(y)?.result;
    if (!a || !b) return;
    console.log(`| ${label} | ${ratio(a.saturation.perSecond, b.saturation.perSecond)} | ${ratio(a.latency.p99, b.latency.p99)} |`);
  };
  pair('Sluice: 2 nodes (redis) ÷ 1 node (redis)', 'sluice-redis-2', 'sluice-redis');
  pair('Sluice: 2 nodes (redis) ÷ 1 node (memory)', 'sluice-redis-2', 'sluice-memory');
  pair('Sluice: 1 node, redis ÷ memory', 'sluice-redis', 'sluice-memory');
  pair('Socket.IO: 2 nodes ÷ 1 node (redis-adapter)', 'socketio-redis-2', 'socketio-redis');
  pair('Socket.IO: 1 node, redis-adapter ÷ none', 'socketio-redis', 'socketio');
  pair('2 nodes: Sluice ÷ Socket.IO', 'sluice-redis-2', 'socketio-redis-2');
  pair('1 node on Redis: Sluice ÷ Socket.IO', 'sluice-redis', 'socketio-redis');
  pair('1 node, no Redis: Sluice ÷ Socket.IO', 'sluice-memory', 'socketio');
  const short = rows.filter((r) => r.result && r.result.latency.samples < r.result.latency.expected);
  if (short.length) console.log(`\nLatency samples short of expected (lost, conflated or late): ${short.map((r) => `${r.t.name} ${r.result!.latency.samples}/${r.result!.latency.expected}`).join(', ')}`);
}

async function main(): Promise<void> {
  const generator = buildGenerator();
  const runPrefix = `sluice-bench-${randomBytes(4).toString('hex')}`;
  let privateRedis: ChildProcess | undefined;
  let redisUrl = process.env.BENCH_REDIS_URL;
  if (!redisUrl && targets.some((t) => t.redis)) {
    const r = await startPrivateRedis(await freePort(), pinned(layout?.redis));
    privateRedis = r.child;
    redisUrl = r.url;
  }
  const redis = { url: redisUrl ?? '', pid: privateRedis?.pid };
  const load0 = loadavg();
  const facts = [
    `${new Date().toISOString()} · ${cpus()[0]?.model ?? 'unknown CPU'} · ${cores} cores · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · Redis ${redisUrl ? await redisVersion(redisUrl) : '—'} (${privateRedis ? 'private redis-server, this run only' : 'shared server: command counts include other clients'})`,
    layout ? `Cores: node A ${layout.a}, node B ${layout.b}, Redis ${layout.redis}, load generator ${layout.load} (taskset)` : 'Unpinned (no taskset or one core)',
    preloadScripts
      ? "Sluice's Redis scripts were preloaded (SCRIPT LOAD) before each run (BENCH_PRELOAD_SCRIPTS=1)"
      : 'Cold Redis script cache before each Sluice run (the engine loads its scripts when it connects)',
    `Messages of ~100 B; saturation = ${satMs / 1000} s with ≤ ${window} messages in flight; latency at ${latencyRate} msgs/s for ${latencyMs / 1000} s. Two nodes: the source and receivers 0–${Math.floor(n / 2) - 1} on node A, receivers ${Math.floor(n / 2)}–${n - 1} on node B.`,
  ];
  const rows: Row[] = [];
  try {
    for (const t of targets) {
      process.stderr.write(`… ${t.name}\n`);
      rows.push(await runOne(t, generator, redis, runPrefix));
    }
  } finally {
    privateRedis?.kill('SIGKILL');
    if (redisUrl && !privateRedis) await deleteKeys(redisUrl, runPrefix).catch(() => 0);
  }
  const load1 = loadavg();
  facts.push(`Load average (1 min) at the start ${load0[0]!.toFixed(2)}, at the end ${load1[0]!.toFixed(2)}`);
  report(rows, facts);
}

await main();
