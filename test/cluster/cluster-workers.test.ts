/**
 * `sluice relay --workers N`: one command, N relay processes sharing the port (node:cluster) and
 * the Redis engine. Real processes, real Redis, real connections spread by the primary.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { after, describe, it } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/relay/config.js';
import { TestPeer, spawnRelay } from '../support/relay-harness.js';
import { REDIS_URL, deleteKeys, eventually } from './cluster-harness.js';

/** GET over a fresh TCP connection (no keep-alive), so each request may reach another worker. */
function freshGet(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close' }, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const workersOf = (stderr: string) => [...stderr.matchAll(/worker (\d+) pid (\d+) node (\w+) listening/g)].map((m) => ({ slot: Number(m[1]), pid: Number(m[2]), node: m[3]! }));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('sluice relay --workers', () => {
  const prefix = `sluice-test-${randomBytes(5).toString('hex')}`;
  after(() => deleteKeys(REDIS_URL, prefix).catch(() => {}));

  it('refuses more than one worker without the Redis engine, saying why', async () => {
    await assert.rejects(spawnRelay(['--workers', '2']), /--workers 2 needs --engine redis/);
  });

  it('--workers (SLUICE_WORKERS) is checked with the other options', () => {
    assert.equal(resolveConfig({ env: { SLUICE_WORKERS: '4', SLUICE_ENGINE: 'redis' } }).workers, 4);
    assert.throws(() => resolveConfig({ flags: { workers: 0 } }), ConfigError);
    assert.throws(() => resolveConfig({ flags: { workers: 2 } }), /needs --engine redis/);
    // uWS workers share a port through the kernel (SO_REUSEPORT): port 0 would give each its own.
    assert.throws(() => resolveConfig({ flags: { workers: 2, engine: 'redis', transport: 'uws', port: 0 } }), /needs a fixed --port/);
    assert.equal(resolveConfig({ flags: { workers: 2, engine: 'redis', transport: 'uws', port: 9100 } }).workers, 2);
  });

  it('two workers share the port and the channels; a worker killed is restarted and its clients converge on the other', async (t) => {
    const relay = await spawnRelay(['--workers', '2', '--engine', 'redis', '--redis-url', REDIS_URL, '--redis-prefix', prefix, '--redis-lease-ms', '1000', '--source-policy', 'takeover']);
    t.after(async () => {
      if (relay.exit === undefined) await relay.stop();
    });
    const workers = workersOf(relay.stderr());
    assert.equal(workers.length, 2, `both workers listen before the primary says so:\n${relay.stderr()}`);
    assert.equal(new Set(workers.map((w) => w.node)).size, 2, 'each worker is its own node');

    let model: Record<string, number> = { n: 0 };
    let src = await TestPeer.connect(`${relay.url}/source/w`);
    src.send({ kind: 'signal-sync', state: model });
    const connect = () => TestPeer.connect(`${relay.url}/stream/w`);
    const rxs = await Promise.all(Array.from({ length: 12 }, connect));
    // The primary hands connections to the workers in turn: both serve receivers of the channel.
    await eventually(
      async () => {
        const seen = new Map<string, number>();
        for (let i = 0; i < 6; i++) {
          const s = await freshGet(`${relay.http}/api/stats`);
          seen.set(String(s.node), Number(s.receivers));
        }
        return seen.size === 2 && [...seen.values()].every((n) => n > 0);
      },
      10_000,
      'both workers to hold receivers',
    );
    for (let i = 1; i <= 20; i++) {
      model = { ...model, n: i, [`k${i % 4}`]: i };
      src.send({ kind: 'signal-diff', diff: { n: i, [`k${i % 4}`]: i } });
    }
    const converged = (p: TestPeer) => JSON.stringify(p.state) === JSON.stringify(model);
    for (const r of rxs) await r.until(() => converged(r), 10_000, 'every receiver to converge');

    // kill -9 one worker: its clients are cut off and reconnect (to the other worker, or to its
    // replacement); the primary starts a new worker in its place.
    const victim = workers[0]!;
    process.kill(victim.pid, 'SIGKILL');
    await eventually(() => rxs.some((r) => r.closeCode !== undefined), 10_000, "the victim's receivers to be cut off");
    for (const [i, r] of rxs.entries()) {
      if (r.closeCode !== undefined) rxs[i] = await connect();
    }
    if (src.closeCode !== undefined) {
      src = await TestPeer.connect(`${relay.url}/source/w`);
      src.send({ kind: 'signal-sync', state: model });
    }
    model = { ...model, n: 21 };
    src.send({ kind: 'signal-diff', diff: { n: 21 } });
    for (const r of rxs) await r.until(() => converged(r), 15_000, 'every receiver to converge after the kill');
    await eventually(() => workersOf(relay.stderr()).length === 3, 15_000, 'the primary to restart the worker');
    const replacement = workersOf(relay.stderr())[2]!;
    assert.equal(replacement.slot, victim.slot);
    assert.match(relay.stderr(), new RegExp(`worker ${victim.slot} pid ${victim.pid} exited \\(SIGKILL\\); restarting`));
    assert.ok(alive(replacement.pid));

    // SIGTERM on the primary drains every worker and exits cleanly.
    src.close();
    for (const r of rxs) r.close();
    await relay.stop();
    assert.equal(relay.exit?.code, 0, relay.stderr());
    assert.ok(!alive(replacement.pid) && !alive(workers[1]!.pid), 'no worker outlives the primary');
  });
});
