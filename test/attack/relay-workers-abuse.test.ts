// `sluice relay --workers N` abused: absurd worker counts, and SIGTERM while the workers are still
// starting. Real processes and real Redis (a unique --redis-prefix, keys deleted after); every
// process started here is killed by PID.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/relay/config.js';
import { REDIS_URL, deleteKeys } from '../cluster/cluster-harness.js';
import { spawnRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('attack: sluice relay --workers', () => {
  const prefix = `sluice-attack-${randomBytes(5).toString('hex')}`;
  after(() => deleteKeys(REDIS_URL, prefix).catch(() => {}));

  it('bad worker counts are refused at config time: 0, -1, abc, 1.5', () => {
    for (const v of ['0', '-1', 'abc', '1.5']) {
      assert.throws(() => resolveConfig({ env: { SLUICE_WORKERS: v, SLUICE_ENGINE: 'redis' } }), ConfigError, `SLUICE_WORKERS=${JSON.stringify(v)}`);
    }
  });

  it('an absurd worker count (1e9, 100000) is refused at config time instead of forking that many processes', () => {
    // Not run for real: relay-workers.ts does `new Array(workers).fill(0)` and then forks `workers`
    // processes, so `--workers 1e9` is an out-of-memory crash or a fork bomb on the host.
    for (const v of ['1e9', '100000', '1_000_000']) {
      assert.throws(() => resolveConfig({ env: { SLUICE_WORKERS: v, SLUICE_ENGINE: 'redis' } }), ConfigError, `SLUICE_WORKERS=${v} was accepted (workers = ${(() => {
        try {
          return resolveConfig({ env: { SLUICE_WORKERS: v, SLUICE_ENGINE: 'redis' } }).workers;
        } catch {
          return 'refused';
        }
      })()})`);
    }
  });

  it('SIGTERM while the workers are still starting exits promptly, without waiting out the shutdown deadline and SIGKILLing them', async (t) => {
    const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'relay', '--port', '0', '--host', '127.0.0.1', '--workers', '2', '--engine', 'redis', '--redis-url', REDIS_URL, '--redis-prefix', prefix, '--shutdown-timeout-ms', '6000'], {
      env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (err += c));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const seen = new Set<number>();
    t.after(() => {
      for (const pid of [...seen, child.pid!]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    // The primary has forked its workers, and none of them listens yet.
    await until(() => {
      for (const p of childrenOf(child.pid!)) seen.add(p);
      return seen.size >= 1;
    }, 10_000, 'a forked worker');
    assert.ok(!/worker \d+ pid \d+ node \w+ listening/.test(err), `too late: a worker already listens\n${err}`);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const res = await exited;
    const ms = Date.now() - t0;
    for (const p of childrenOf(child.pid!)) seen.add(p);
    await until(() => [...seen].every((p) => !alive(p)), 10_000, 'no worker outlives the primary').catch(() => undefined);
    assert.ok([...seen].every((p) => !alive(p)), `workers still alive after the primary exited: ${[...seen].filter(alive).join(', ')}`);
    // Measured: ~8 s (the 6 s deadline + 2 s) — the 'sluice-stop' message reaches a worker that has
    // no listener yet (serveAsWorker runs only once it listens), so it is lost and the primary
    // SIGKILLs the workers at the deadline.
    assert.ok(ms < 4000, `SIGTERM during startup took ${ms} ms to exit (code ${res.code}, signal ${res.signal})\n${err}`);
  });

  it('a port already in use: the primary stops every worker and exits non-zero at once, no restart loop', async (t) => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    t.after(() => blocker.close());
    const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'relay', '--port', String(port), '--host', '127.0.0.1', '--workers', '2', '--engine', 'redis', '--redis-url', REDIS_URL, '--redis-prefix', prefix], {
      env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (err += c));
    const seen = new Set<number>();
    const poll = setInterval(() => {
      for (const p of childrenOf(child.pid!)) seen.add(p);
    }, 50);
    t.after(() => {
      clearInterval(poll);
      for (const pid of [...seen, child.pid!]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    const t0 = Date.now();
    const res = await new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    clearInterval(poll);
    const ms = Date.now() - t0;
    assert.notEqual(res.code, 0, `exit ${res.code}\n${err}`);
    assert.ok(ms < 15_000, `took ${ms} ms`);
    assert.ok(seen.size <= 2, `${seen.size} workers forked for 2 slots: a restart loop\n${err}`);
    await until(() => [...seen].every((p) => !alive(p)), 10_000, 'no worker left').catch(() => undefined);
    assert.ok([...seen].every((p) => !alive(p)), 'a worker outlived the primary');
  });

  it('a worker that dies again and again is restarted with growing delays, not in a fork loop', async (t) => {
    const relay = await spawnRelay(['--workers', '2', '--engine', 'redis', '--redis-url', REDIS_URL, '--redis-prefix', prefix, '--redis-lease-ms', '1000']);
    t.after(async () => {
      for (const p of childrenOf(relay.pid)) if (alive(p)) process.kill(p, 'SIGKILL');
      relay.kill('SIGKILL');
      await relay.exited;
    });
    // Kill slot 1's worker each time it is (re)started, for 5 s.
    const slot1 = () => [...relay.stderr().matchAll(/worker 1 pid (\d+) node \w+ listening/g)].map((m) => Number(m[1]));
    const killed = new Set<number>();
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      for (const pid of slot1()) {
        if (!killed.has(pid) && alive(pid)) {
          killed.add(pid);
          process.kill(pid, 'SIGKILL');
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const delays = [...relay.stderr().matchAll(/worker 1 pid \d+ exited \([^)]*\); restarting in (\d+) ms/g)].map((m) => Number(m[1]));
    assert.ok(killed.size >= 3, `only ${killed.size} kills: ${relay.stderr()}`);
    // 100, 200, 400, 800, 1600 ms…: at most ~7 restarts in 5 s even though each died at once.
    assert.ok(killed.size <= 8, `${killed.size} restarts of one worker in 5 s`);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, `delays do not grow: ${delays.join(', ')}`);
    assert.equal(relay.exit, undefined, 'the primary itself stays up');
  });
});
