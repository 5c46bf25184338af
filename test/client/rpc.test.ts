// Issue #11: RPCs that cannot be routed fail at once; timed-out calls are withdrawn and never run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RpcError, source, subscribe } from '../../src/client/index.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';
import { FakeRelay } from './fake-relay.js';

describe('client RPC', () => {
  it('a call on a channel with no source rejects at once with rpc/no-source (relay Error frame)', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const view = subscribe(`${relay.url}/stream/nobody`, { rpcTimeoutMs: 10_000 });
    t.after(() => view.close());
    await view.when.live();
    const errors: unknown[] = [];
    view.on('error', (e) => errors.push(e));
    const started = Date.now();
    await assert.rejects(view.call('add', [1, 2]), (e: unknown) => e instanceof RpcError && e.code === 'rpc/no-source' && e.reason === 'no-source');
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.deepEqual(errors, [], 'the Error frame settled the call; no stray error event');
  });

  it('an RpcResult error carrying the call id (no-source / source-busy) rejects that call', async (t) => {
    const fake = await FakeRelay.start((c) => {
      c.welcome('receiver');
      c.ws.on('message', (data: Buffer) => {
        if (data[0] !== 0xa4) return; // pings
        const call = JSON.parse(data.subarray(16).toString()) as { id: number; method: string };
        const code = call.method === 'a' ? 'no-source' : 'source-busy';
        c.send({ kind: 'rpc-result', result: { id: call.id, error: { code, message: code } } });
      });
    });
    t.after(() => fake.close());
    const view = subscribe(`${fake.url}/stream/x`, { rpcTimeoutMs: 10_000 });
    t.after(() => view.close());
    await view.when.live();
    await assert.rejects(view.call('a'), (e: unknown) => e instanceof RpcError && e.code === 'rpc/no-source');
    await assert.rejects(view.call('b'), (e: unknown) => e instanceof RpcError && e.code === 'rpc/source-busy');
  });

  it('a timed-out call is withdrawn: the source never starts its handler', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/slow`, { maxConcurrentCalls: 1 });
    t.after(() => src.close());
    const runs: number[] = [];
    src.handle('work', async (p) => {
      runs.push(p as number);
      await new Promise((r) => setTimeout(r, 400));
      return p;
    });
    const view = subscribe(`${relay.url}/stream/slow`);
    t.after(() => view.close());
    await view.when.online();
    // The first call occupies the only handler slot; the second waits in the source's queue.
    const first = view.call('work', 1, { timeoutMs: 150 });
    const second = view.call('work', 2, { timeoutMs: 150 });
    await assert.rejects(first, (e: unknown) => e instanceof RpcError && e.code === 'rpc/timeout');
    await assert.rejects(second, (e: unknown) => e instanceof RpcError && e.code === 'rpc/timeout');
    // The caller retries: this one runs.
    assert.equal(await view.call('work', 3, { timeoutMs: 2000 }), 3);
    await until(() => src.callsDropped === 1, 2000, 'the withdrawn call dropped');
    assert.deepEqual(runs, [1, 3], 'call 2 never ran');
  });

  it('calls carry timeoutMs; a source drops a call that expired before its handler could start', async (t) => {
    const fake = await FakeRelay.start((c) => c.welcome('source'));
    t.after(() => fake.close());
    const src = source(`${fake.url}/source/x`, { maxConcurrentCalls: 1 });
    t.after(() => src.close());
    const runs: string[] = [];
    src.handle('block', () => {
      runs.push('block');
      const end = Date.now() + 120;
      while (Date.now() < end); // the source is busy
      return null;
    });
    src.handle('late', () => void runs.push('late'));
    await src.when.online();
    const conn = await fake.connection(0);
    const call = (id: number, method: string, extra: object) => {
      const json = new TextEncoder().encode(JSON.stringify({ id, method, ...extra }));
      const b = new Uint8Array(20 + json.length);
      const v = new DataView(b.buffer);
      v.setUint8(0, 0xa4);
      v.setUint8(1, 0x08);
      v.setUint32(12, 4 + json.length, true);
      v.setUint32(16, 9, true);
      b.set(json, 20);
      conn.send(b);
    };
    call(1, 'block', {});
    call(2, 'late', { timeoutMs: 50 });
    await until(() => src.callsDropped === 1, 2000, 'the expired call dropped');
    await until(() => conn.messages('rpc-result').length === 1, 2000, 'the first call answered');
    assert.deepEqual(runs, ['block']);
  });
});
