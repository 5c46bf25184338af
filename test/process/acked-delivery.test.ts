// Process output survives a connection that keeps dropping: every line reaches the relay exactly
// once, in order, and `done` resolves only after the relay confirmed all of it. The connection
// runs through a TCP proxy in this test that cuts every connection for 150 ms of every 300 ms.
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Source } from '../../src/client/source.js';
import { subscribe } from '../../src/client/stream-view.js';
import { hasAckedLog } from '../../src/process/log-delivery.js';
import { streamProcess } from '../../src/process/stream-process.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

/** A proxy to `port` that, every `periodMs`, drops every connection and refuses new ones for `downMs`. */
async function flakyProxy(port: number, periodMs = 300, downMs = 150): Promise<{ port: number; drops: () => number; close: () => void }> {
  const live = new Set<Socket>();
  let down = false;
  let drops = 0;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(port, '127.0.0.1');
    const pair = [client, upstream];
    for (const s of pair) {
      live.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        live.delete(s);
        for (const o of pair) o.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const timer = setInterval(() => {
    down = true;
    if (live.size > 0) drops++;
    for (const s of live) s.destroy();
    setTimeout(() => (down = false), downMs);
  }, periodMs);
  return {
    port: (server.address() as { port: number }).port,
    drops: () => drops,
    close: () => {
      clearInterval(timer);
      for (const s of live) s.destroy();
      server.close();
    },
  };
}

// 200 numbered lines, one every 10 ms (about 2 s: several drops happen while it prints).
const PRINTER = `let i = 0; const t = setInterval(() => { process.stdout.write('line ' + i + '\\n'); if (++i === 200) { clearInterval(t); } }, 10);`;
const EXPECTED = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join('');

describe('process output over a connection that keeps dropping', () => {
  it(
    'all 200 lines arrive exactly once, in order, and done resolves after the relay confirmed them',
    { timeout: 60_000 },
    async (t) => {
      assert.ok(hasAckedLog(Source.prototype), 'the SDK has an acknowledged log');
      const relay = await startTestRelay();
      t.after(() => relay.close());
      const proxy = await flakyProxy(relay.port);
      t.after(() => proxy.close());

      const p = streamProcess(`ws://127.0.0.1:${proxy.port}`, 'flaky', process.execPath, ['-e', PRINTER], {
        backoff: { initialMs: 20, maxMs: 100 },
        pingIntervalMs: 500,
        drainTimeoutMs: 30_000,
      });
      assert.equal(p.acknowledged, true);
      const status = await p.done;
      assert.deepEqual([status.status, status.exitCode], ['exited', 0]);
      t.diagnostic(`the proxy dropped ${proxy.drops()} times`);
      assert.ok(proxy.drops() >= 3, 'connections were dropped while the process printed');

      // Read what the relay holds, directly: the whole output once, in order, then the final status.
      const view = subscribe(`${relay.url}/stream/process%3Aflaky`);
      t.after(() => view.close());
      const out: Buffer[] = [];
      const statuses: string[] = [];
      view.on('log', (r) => {
        if (r.stream === 'stdout') out.push(Buffer.from(r.data));
        if (r.stream === 'status') statuses.push((JSON.parse(r.text) as { status: string }).status);
      });
      await until(() => view.welcome !== undefined && view.logOffset >= view.welcome.logNext!, 10_000, 'the history');
      assert.equal(Buffer.concat(out).toString(), EXPECTED);
      assert.deepEqual(statuses, ['running', 'exited']);
    },
  );

  it('done rejects with the final status when the relay cannot confirm the records in time', { timeout: 30_000 }, async () => {
    // Nothing listens: no record can be confirmed (nor sent). `done` must not report success.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as { port: number }).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const p = streamProcess(`ws://127.0.0.1:${port}`, 'nowhere', 'sh', ['-c', 'echo lost; exit 2'], { drainTimeoutMs: 500, backoff: { initialMs: 20, maxMs: 50 } });
    await assert.rejects(p.done, (e: Error & { status?: { status: string; exitCode: number } }) => {
      assert.equal(e.name, 'ProcessDeliveryError');
      assert.deepEqual([e.status?.status, e.status?.exitCode], ['exited', 2]);
      return true;
    });
  });
});
