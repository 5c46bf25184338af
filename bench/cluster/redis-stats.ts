/**
 * Redis helpers for the cluster benchmarks: per-command call counts (`INFO commandstats`), the
 * server's version, a private redis-server, and cleanup of one prefix's keys (SCAN + DEL — never
 * FLUSHALL, since other clusters and tests may share the server).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createClient } from 'redis';

const connectTo = (url: string) => createClient({ url, socket: { reconnectStrategy: false } });

async function withClient<T>(url: string, fn: (c: ReturnType<typeof connectTo>) => Promise<T>): Promise<T> {
  const c = connectTo(url);
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** Calls per command since the server started (`cmdstat_<name>:calls=…`). */
export function commandStats(url: string): Promise<Map<string, number>> {
  return withClient(url, async (c) => {
    const text = await c.info('commandstats');
    const out = new Map<string, number>();
    for (const m of text.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
    return out;
  });
}

/** Commands run between two `commandStats` samples, without the INFO calls that took them. */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [cmd, calls] of after) {
    const d = calls - (before.get(cmd) ?? 0);
    if (d > 0 && cmd !== 'info') out.set(cmd, d);
  }
  return out;
}

export function redisVersion(url: string): Promise<string> {
  return withClient(url, async (c) => /redis_version:(\S+)/.exec(await c.info('server'))?.[1] ?? 'unknown');
}

/** Deletes every key that starts with `prefix` (SCAN + DEL); returns how many there were. */
export function deleteKeys(url: string, prefix: string): Promise<number> {
  return withClient(url, async (c) => {
    let n = 0;
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length) n += await c.del(keys);
    }
    return n;
  });
}

/** A throwaway redis-server on `port` (no persistence), started through `wrap` (e.g. taskset). */
export async function startPrivateRedis(port: number, wrap: (cmd: string, args: string[]) => [string, string[]]): Promise<{ url: string; child: ChildProcess }> {
  const [cmd, args] = wrap('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await withClient(url, (c) => c.ping())) === 'PONG') return { url, child };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > end) throw new Error(`redis-server on port ${port} did not start (is redis-server installed?)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Commands seen by MONITOR: sent by clients (round trips), and run inside scripts. */
export interface MonitorCounts {
  sent: Map<string, number>;
  inScripts: Map<string, number>;
}

/**
 * Counts the commands that mention `needle` (a run's key prefix: its keys and pub/sub channels)
 * until `stop` (and until they stop coming), split into those clients sent and those scripts ran
 * (MONITOR shows them as `[db lua]`). MONITOR costs Redis some CPU per command: use it at a modest rate.
 */
export async function startMonitor(url: string, needle: string): Promise<{ stop: () => Promise<MonitorCounts> }> {
  const c = connectTo(url);
  c.on('error', () => {});
  await c.connect();
  const counts: MonitorCounts = { sent: new Map(), inScripts: new Map() };
  let last = performance.now();
  await c.monitor((line: string) => {
    if (!line.includes(needle)) return;
    last = performance.now();
    const m = /^\S+ \[\d+ (\S+)\] "([^"]+)"/.exec(line);
    if (!m) return;
    const into = m[1] === 'lua' ? counts.inScripts : counts.sent;
    const cmd = m[2]!.toLowerCase();
    into.set(cmd, (into.get(cmd) ?? 0) + 1);
  });
  return {
    stop: async () => {
      // A system that fell behind is still publishing: wait for 1 s without a line (≤ 20 s).
      const end = performance.now() + 20_000;
      while (performance.now() - last < 1000 && performance.now() < end) await new Promise((r) => setTimeout(r, 50));
      c.destroy();
      return counts;
    },
  };
}

/** Loads scripts into Redis's script cache (SCRIPT LOAD), as if a node had already run them. */
export function loadScripts(url: string, scripts: readonly string[]): Promise<void> {
  return withClient(url, async (c) => {
    for (const text of scripts) await c.scriptLoad(text);
  });
}
