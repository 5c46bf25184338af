import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { compose, inputs, source, subscribe } from '../../src/client/index.js';
import { ConnectionRefusedError, RpcError, SchemaValidationError } from '../../src/client/errors.js';
import { HEADER_SIZE } from '../../src/protocol/header.js';
import type { Relay } from '../../src/relay/server.js';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const fast = { backoff: { initialMs: 20, maxMs: 100 } };


describe('client: source and subscribe', () => {
  let relay: Relay;
  before(async () => {
    relay = await startTestRelay();
  });
  after(() => relay.close());

  it('three mutations in one tick leave as ONE SignalDiff; private fields never leave', async (t) => {
    const src = source(`${relay.url}/source/batch`, { initial: { count: 0, doubled: 0, secret: 'PRIVATE' }, output: ['count', 'doubled'] });
    t.after(() => src.close());
    await src.when.online();
    const raw = await TestPeer.connect(`${relay.url}/stream/batch`);
    t.after(() => raw.close());
    await raw.until(() => raw.state.count === 0);
    src.state.count = 1;
    src.state.doubled = 2;
    src.state.count = 3;
    src.state.secret = 'STILL PRIVATE';
    await raw.until(() => raw.messages('signal-diff').length === 1);
    await sleep(50);
    assert.equal(raw.messages('signal-diff').length, 1);
    assert.deepEqual(raw.messages('signal-diff')[0], { ...raw.messages('signal-diff')[0], diff: { count: 3, doubled: 2 } });
    const wire = raw.received.map((r) => new TextDecoder().decode(r.bytes.subarray(HEADER_SIZE))).join('');
    assert.ok(!wire.includes('PRIVATE'), 'a field outside output reached the wire');
    assert.equal(src.diffsSent, 1);
    // Nested mutation through the proxy.
    src.update((s) => {
      (s as Record<string, unknown>).count = 4;
    });
    await raw.until(() => raw.state.count === 4);
  });

  it('a view exposes get/subscribe/async iteration, status and when.online()', async (t) => {
    const src = source(`${relay.url}/source/view`, { initial: { n: 1, player: { pos: { x: 0, y: 0 }, name: 'a' } } });
    const view = subscribe<{ n: number; player: { pos: { x: number } } }>(`${relay.url}/stream/view`, { pingIntervalMs: 100 });
    t.after(() => {
      void src.close();
      void view.close();
    });
    await view.when.online();
    await view.when.ready();
    const first = view.get();
    assert.equal(first.n, 1);
    assert.equal(view.get(), first, 'same reference until something changes');
    const seen: string[][] = [];
    const off = view.subscribe((paths) => seen.push(paths));
    const iter = view[Symbol.asyncIterator]();
    assert.equal((await iter.next()).value?.n, 1);
    src.state.player.pos.x = 5;
    assert.equal((await iter.next()).value?.player.pos.x, 5);
    assert.deepEqual(seen[0], ['player.pos.x']);
    assert.notEqual(view.get(), first);
    off();
    await iter.return?.(undefined);
    await until(() => view.latencyMs !== undefined, 2000, 'RTT');
    assert.ok(view.connected && view.frames > 0 && view.bytes > 0 && view.sourceOnline);
  });

  it('select is enforced by the relay and again locally', async (t) => {
    const src = source(`${relay.url}/source/sel`, { initial: { a: 1, b: 2, c: { d: 3, e: 4 } } });
    const view = subscribe(`${relay.url}/stream/sel`, { select: ['a', 'c.d'] });
    t.after(() => {
      void src.close();
      void view.close();
    });
    await view.when.ready();
    assert.deepEqual(view.get(), { a: 1, c: { d: 3 } });
    const changes: string[][] = [];
    view.subscribe((p) => changes.push(p));
    src.state.b = 20;
    src.state.a = 10;
    await until(() => (view.get() as { a: number }).a === 10);
    assert.deepEqual(changes, [['a']], 'unselected changes do not notify');
  });

  it('actions and inputs reach the source with the sender id; RPC calls return results', async (t) => {
    const src = source(`${relay.url}/source/act`, { initial: { count: 0 } });
    src.on('action', ({ action }) => {
      if ((action as { type?: string }).type === 'inc') src.state.count++;
    });
    const got: string[] = [];
    src.on('input', ({ event, sender }) => got.push(`${event.input}:${sender}`));
    src.handle('add', (params) => (params as number[]).reduce((x, y) => x + y, 0));
    src.handle('boom', () => {
      throw new Error('kaput');
    });
    const view = subscribe<{ count: number }>(`${relay.url}/stream/act`);
    t.after(() => {
      void src.close();
      void view.close();
    });
    await view.when.online();
    view.send({ type: 'inc' });
    view.send({ type: 'inc' });
    view.input(inputs.pointer(3, 4, 'down', 1));
    await until(() => view.get().count === 2, 3000, 'actions applied and echoed as state');
    assert.deepEqual(got, [`action:${view.id}`, `action:${view.id}`, `pointer:${view.id}`]);
    assert.equal(await view.call('add', [1, 2, 3]), 6);
    await assert.rejects(view.call('boom'), (e: unknown) => e instanceof RpcError && /kaput/.test(e.message));
    await assert.rejects(view.call('missing'), (e: unknown) => e instanceof RpcError && e.code === 'rpc/not-found');
  });

  it('schema-invalid state becomes a typed error event, never a crash, and is not applied', async (t) => {
    const schema = z.object({ count: z.number() });
    const src = source(`${relay.url}/source/schema`, { initial: { count: 1 } as Record<string, unknown> });
    const view = subscribe(`${relay.url}/stream/schema`, { schema });
    t.after(() => {
      void src.close();
      void view.close();
    });
    const errors: unknown[] = [];
    view.on('error', (e) => errors.push(e));
    await view.when.ready();
    const c: number = view.get().count; // typed by the schema
    assert.equal(c, 1);
    src.state.count = 'not a number';
    await until(() => errors.length === 1, 3000, 'schema error');
    assert.ok(errors[0] instanceof SchemaValidationError);
    assert.equal(view.get().count, 1, 'the invalid state was not applied');
    src.state.count = 2;
    await until(() => view.get().count === 2);
  });

  it('compose: three sources → aggregator → dashboard converges, an upstream change arriving in one tick', async (t) => {
    const counter = source(`${relay.url}/source/counter`, { initial: { count: 1, doubled: 2 } });
    const clock = source(`${relay.url}/source/clock`, { initial: { seconds: 10 } });
    const stats = source(`${relay.url}/source/stats`, { initial: { total: 100 } });
    const [c, k, s] = [subscribe<{ count: number }>(`${relay.url}/stream/counter`), subscribe<{ seconds: number }>(`${relay.url}/stream/clock`), subscribe<{ total: number }>(`${relay.url}/stream/stats`)];
    const metrics = compose({ counter: c, clock: k, stats: s }, ({ counter, clock, stats }) => ({
      uptime: clock.seconds ?? 0,
      events: (counter.count ?? 0) + (stats.total ?? 0),
      status: 'nominal',
    }));
    const pub = metrics.publish(`${relay.url}/source/metrics`, { output: ['uptime', 'events', 'status'] });
    const dash = subscribe<{ uptime: number; events: number }>(`${relay.url}/stream/metrics`, { select: ['uptime', 'events'] });
    t.after(() => {
      for (const x of [counter, clock, stats, c, k, s, dash]) void x.close();
      metrics.close();
    });
    await until(() => dash.get().events === 101 && dash.get().uptime === 10, 5000, 'dashboard converges');
    assert.deepEqual(dash.get(), { uptime: 10, events: 101 });
    const before = pub.diffsSent;
    counter.state.count = 5;
    stats.state.total = 200;
    await until(() => dash.get().events === 205, 3000, 'propagation');
    clock.state.seconds = 11;
    await until(() => dash.get().uptime === 11);
    assert.ok(pub.diffsSent - before <= 3, `aggregator sent ${pub.diffsSent - before} diffs for 3 upstream changes`);
  });

  it('stops reconnecting on non-retryable closes and reports a typed error', async (t) => {
    const auth = await startTestRelay({ auth: 'jwt', jwtSecret: 'x'.repeat(40) });
    t.after(() => auth.close());
    const noToken = subscribe(`${auth.url}/stream/x`, fast);
    const badPath = subscribe(`${relay.url}/nothing/here`, fast);
    const errors: unknown[] = [];
    noToken.on('error', (e) => errors.push(e));
    await until(() => noToken.error !== undefined && badPath.error !== undefined, 3000, 'refusals');
    await sleep(400);
    assert.equal(noToken.reconnects, 0);
    assert.equal(badPath.reconnects, 0);
    assert.ok(noToken.error instanceof ConnectionRefusedError && noToken.error.closeCode === 4401);
    assert.ok(badPath.error instanceof ConnectionRefusedError && badPath.error.closeCode === 4404);
    assert.ok(errors.some((e) => e instanceof ConnectionRefusedError));
  });

  it('pixels: publishPixels sends keyframes and deltas; the view rebuilds the RGBA frames', async (t) => {
    const src = source(`${relay.url}/source/px`, { mode: 'pixel' });
    const view = subscribe(`${relay.url}/stream/px`);
    t.after(() => {
      void src.close();
      void view.close();
    });
    await src.when.online();
    await view.when.online();
    const W = 32;
    const H = 16;
    let last: Uint8Array = new Uint8Array(0);
    let frames = 0;
    view.on('frame', (f) => {
      frames++;
      last = f.rgba.slice();
    });
    const img = new Uint8Array(W * H * 4);
    for (let i = 0; i < 10; i++) {
      img[(i * 97) % img.length] = i + 1;
      src.publishPixels(W, H, img);
      await sleep(5);
    }
    await until(() => frames === 10, 3000, 'frames');
    assert.deepEqual(Array.from(last), Array.from(img));
  });
});
