/**
 * Attack: a network path that dies silently (half-open: no FIN, no RST — a Wi-Fi switch, a NAT
 * timeout). The SDK source notices the silence (3 ping intervals) and reconnects on a new path,
 * but the relay still holds the old connection until its idle timeout (45 s), answers 4409
 * "already has a source", and the source treats 4409 as fatal: it stops for good and every log
 * record written since is never delivered (`sluice run` / streamProcess lose the rest of the run).
 */
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { test } from 'node:test';
import { source } from '../../src/client/source.js';
import { startTestRelay, TestPeer, sleep } from '../support/relay-harness.js';

/** A proxy whose current connections can be black-holed: nothing forwarded, nothing closed. */
class BlackholeProxy {
  private pairs: { c: Socket; u: Socket; dead: boolean }[] = [];
  private constructor(readonly server: Server) {}
  static async start(port: number): Promise<BlackholeProxy> {
    const server = createServer();
    const p = new BlackholeProxy(server);
    server.on('connection', (c) => {
      const u = connect({ host: '127.0.0.1', port });
      const pair = { c, u, dead: false };
      p.pairs.push(pair);
      c.on('data', (d) => { if (!pair.dead) u.write(d); });
      u.on('data', (d) => { if (!pair.dead) c.write(d); });
      c.on('close', () => { if (!pair.dead) u.destroy(); });
      u.on('close', () => { if (!pair.dead) c.destroy(); });
      c.on('error', () => {});
      u.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return p;
  }
  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }
  /** The current path dies silently; the relay side stays open (no FIN, no RST reach it). */
  blackhole(): void {
    for (const p of this.pairs) p.dead = true;
  }
  close(): void {
    for (const p of this.pairs) { p.c.destroy(); p.u.destroy(); }
    this.server.close();
  }
}

test('a source that reconnects after a silent network failure keeps publishing its log', async () => {
  const relay = await startTestRelay({});
  const proxy = await BlackholeProxy.start(relay.port);
  const states: string[] = [];
  const src = source<{ n: number }>(`${proxy.url}/source/process:ho`, { initial: { n: 0 }, pingIntervalMs: 200, backoff: { initialMs: 100, maxMs: 500 } } as never);
  src.on('state', (s: { current: string }) => states.push(s.current));
  src.on('error', () => {});
  try {
    await src.when.online?.();
    await sleep(300);
    for (let i = 0; i < 5; i++) src.log('stdout', `before ${i}\n`);
    await src.logsAcked(3000);
    proxy.blackhole();
    for (let i = 0; i < 5; i++) src.log('stdout', `after ${i}\n`);
    let err: unknown;
    try {
      await src.logsAcked(6000);
    } catch (e) {
      err = e;
    }
    const tail = await TestPeer.connect(`${relay.url}/stream/process:ho`);
    await sleep(800);
    const lines = tail.messages('log-record').map((m) => new TextDecoder().decode((m as { data: Uint8Array }).data));
    assert.equal(err, undefined, `logsAcked failed: ${String(err)}; states ${states.join(' → ')}; relay has ${lines.length} lines`);
    assert.equal(lines.length, 10);
    tail.ws.close();
  } finally {
    await src.close().catch(() => {});
    proxy.close();
    await relay.close(1000);
  }
});
