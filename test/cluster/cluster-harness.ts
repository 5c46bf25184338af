/**
 * Cluster test harness: relay processes sharing a real Redis (127.0.0.1:6379, or SLUICE_TEST_REDIS_URL)
 * under a random prefix each, a Redis client for checks and cleanup (never FLUSHALL/FLUSHDB: only
 * the prefix's keys are deleted), and a throwaway redis-server for tests that kill Redis.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createClient } from 'redis';
import { spawnRelay } from '../support/relay-harness.js';

export const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Node {
  child: ChildProcess;
  url: string;
  http: string;
  stderr: () => string;
}

export class Cluster {
  readonly prefix = `sluice-test-${randomBytes(5).toString('hex')}`;
  readonly nodes: Node[] = [];
  constructor(
    readonly redisUrl = REDIS_URL,
    readonly leaseMs = 1500,
  ) {}

  async start(extra: string[] = []): Promise<Node> {
    const node = await spawnRelay(['--engine', 'redis', '--redis-url', this.redisUrl, '--redis-prefix', this.prefix, '--redis-lease-ms', String(this.leaseMs), ...extra]);
    this.nodes.push(node);
    return node;
  }

  /** Kills every node (SIGCONT first, in case one is stopped) and deletes the prefix's keys. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.child.exitCode !== null || n.child.signalCode !== null) return;
        n.child.kill('SIGCONT');
        const exited = new Promise((r) => n.child.once('exit', r));
        n.child.kill('SIGKILL');
        await exited;
      }),
    );
    await deleteKeys(this.redisUrl, this.prefix).catch(() => {});
  }
}

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) if (keys.length) await c.del(keys);
  } finally {
    c.destroy();
  }
}

export async function redisKeys(url: string, prefix: string): Promise<string[]> {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  const out: string[] = [];
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) out.push(...keys);
  } finally {
    c.destroy();
  }
  return out;
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls `fn` until it returns true (async allowed), or throws after `ms`. */
export async function eventually(fn: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A private redis-server on a free port (no persistence), for tests that kill or restart Redis. */
export async function startRedis(port?: number): Promise<{ url: string; port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const p = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${p}`;
  await eventually(async () => {
    const c = createClient({ url, socket: { reconnectStrategy: false } });
    c.on('error', () => {});
    await c.connect();
    const pong = await c.ping();
    c.destroy();
    return pong === 'PONG';
  }, 10_000, `redis-server on ${p}`);
  return {
    url,
    port: p,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
