// The SDK against the relay of this protocol wave (epochs, LogAck, RpcResult routing errors, a sync
// on first state). Skipped against a relay that predates it (its Welcome has no epoch).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RpcError, source, subscribe } from '../../src/client/index.js';
import type { LogRecordEvent, TruncationInfo } from '../../src/client/index.js';
import type { Relay } from '../../src/relay/server.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

async function waveRelay(): Promise<boolean> {
  const relay = await startTestRelay();
  const view = subscribe(`${relay.url}/stream/probe`);
  await view.when.live();
  const has = view.welcome?.epoch !== undefined;
  await view.close();
  await relay.close();
  return has;
}
const wave = await waveRelay();
const fast = { backoff: { initialMs: 20, maxMs: 100 } };

describe('client against this wave’s relay', { skip: !wave && 'the relay predates epochs' }, () => {
  it('receivers connected before a source whose first state is {} become ready', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const view = subscribe(`${relay.url}/stream/empty`);
    t.after(() => view.close());
    await view.when.live();
    assert.equal(view.welcome?.created, true);
    const src = source(`${relay.url}/source/empty`, { initial: {} });
    t.after(() => src.close());
    assert.deepEqual(await view.when.ready(), {});
  });

  it('a call with no source is answered at once with an RpcResult error', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const view = subscribe(`${relay.url}/stream/nosrc`, { rpcTimeoutMs: 10_000 });
    t.after(() => view.close());
    await view.when.live();
    const started = Date.now();
    await assert.rejects(view.call('x'), (e: unknown) => e instanceof RpcError && e.code === 'rpc/no-source');
    assert.ok(Date.now() - started < 2000);
  });

  it('log() is acknowledged by the relay; records survive a reconnect exactly once', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/acked`, fast);
    t.after(() => src.close());
    await src.when.online();
    for (let i = 0; i < 50; i++) src.log('stdout', `line ${i}\n`);
    await src.logsAcked(5000);
    assert.equal(src.logAckedSeq, 50);
    // Drop the source's connection; keep writing meanwhile; everything arrives once.
    const peer = (relay.channels.get('acked') as unknown as { source?: { conn: { terminate(): void } } }).source;
    assert.ok(peer, 'the relay has the source');
    peer.conn.terminate();
    for (let i = 50; i < 100; i++) src.log('stdout', `line ${i}\n`);
    await until(() => src.reconnects >= 1 && src.connectionState === 'live', 5000, 'the source reconnected');
    await src.logsAcked(5000);
    const view = subscribe(`${relay.url}/stream/acked`);
    t.after(() => view.close());
    const lines: string[] = [];
    view.on('log', (r: LogRecordEvent) => lines.push(r.text));
    await until(() => lines.length >= 100, 5000, 'a hundred lines');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(lines, Array.from({ length: 100 }, (_, i) => `line ${i}\n`));
  });

  it('after a relay restart a view drops the fields the source deleted meanwhile', async (t) => {
    let relay: Relay = await startTestRelay();
    const port = relay.port;
    const src = source(`${relay.url}/source/restart-state`, { ...fast, initial: { a: 1, b: 2 } as Record<string, unknown> });
    const view = subscribe(`${relay.url}/stream/restart-state`, fast);
    t.after(async () => {
      await src.close();
      await view.close();
      await relay.close();
    });
    await until(() => view.get().b === 2, 3000, 'first state');
    await relay.close(100);
    await until(() => src.connectionState === 'reconnecting', 3000, 'source disconnected');
    src.state.b = undefined;
    src.state.a = 3;
    relay = await startTestRelay({ port });
    await until(() => view.get().a === 3, 5000, 'the new state');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(view.get(), { a: 3 });
  });

  it('after a relay restart a log view reads the new relay from offset 0 and says so', async (t) => {
    let relay: Relay = await startTestRelay();
    const port = relay.port;
    const src = source(`${relay.url}/source/restart-log`, fast);
    const view = subscribe(`${relay.url}/stream/restart-log`, fast);
    t.after(async () => {
      await src.close();
      await view.close();
      await relay.close();
    });
    const lines: string[] = [];
    const truncations: TruncationInfo[] = [];
    view.on('log', (r: LogRecordEvent) => lines.push(r.text));
    view.on('truncated', (_r, _f, info) => truncations.push(info));
    await src.when.online();
    for (let i = 0; i < 5; i++) src.log('stdout', `old ${i}`);
    await until(() => lines.length === 5, 3000, 'old lines');
    await relay.close(100);
    relay = await startTestRelay({ port });
    await src.when.online();
    await view.when.live();
    src.log('stdout', 'new 0');
    await until(() => lines.includes('new 0'), 5000, 'the new relay’s first record');
    assert.equal(truncations.at(-1)?.reason, 'epoch');
    assert.deepEqual(lines.slice(0, 5), ['old 0', 'old 1', 'old 2', 'old 3', 'old 4']);
  });
});
