// Issue #11: a view holds exactly what the relay's current data says — across relay restarts
// (epochs), with async schemas, with an empty first state — and its iterators hold the latest value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { source, subscribe } from '../../src/client/index.js';
import type { LogRecordEvent, TruncationInfo } from '../../src/client/index.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';
import { FakeRelay } from './fake-relay.js';

const fast = { backoff: { initialMs: 10, maxMs: 50 } };
const text = (s: string) => new TextEncoder().encode(s);

describe('client view state', () => {
  it('a new relay epoch resets the state: fields the source deleted meanwhile disappear', async (t) => {
    const fake = await FakeRelay.start((c, i) => {
      if (i === 0) {
        c.welcome('receiver', { epoch: 'A' });
        c.send({ kind: 'signal-sync', state: { a: 1, b: 2 } });
        setTimeout(() => c.close(1001, 'relay restarting'), 50);
      } else {
        // The restarted relay got the source's new state as changes onto nothing (no `b`).
        c.welcome('receiver', { epoch: 'B' });
        c.send({ kind: 'signal-diff', diff: { a: 3 } });
      }
    });
    t.after(() => fake.close());
    const view = subscribe(`${fake.url}/stream/x`, fast);
    t.after(() => view.close());
    const resets: unknown[] = [];
    view.on('reset', (r) => resets.push(r));
    const paths: string[][] = [];
    view.subscribe((p) => paths.push(p));
    await until(() => view.get().a === 3, 3000, 'the new relay state');
    assert.deepEqual(view.get(), { a: 3 });
    assert.deepEqual(resets, [{ reason: 'epoch', previousEpoch: 'A', epoch: 'B' }]);
    assert.deepEqual(paths.at(-1)?.sort(), ['a', 'b']);
  });

  it('a new relay epoch restarts log offsets: records 0..N of the new relay arrive, with a truncation event', async (t) => {
    const fake = await FakeRelay.start((c, i) => {
      const rec = (offset: number, s: string) => c.send({ kind: 'log-record', offset, time: Date.now(), stream: 'stdout', data: text(s) });
      if (i === 0) {
        c.welcome('receiver', { epoch: 'A' });
        for (let k = 0; k < 5; k++) rec(k, `old ${k}`);
        setTimeout(() => c.close(1001, 'relay restarting'), 50);
      } else {
        c.welcome('receiver', { epoch: 'B' });
        // The restarted relay replays its own history from offset 0 (or from `resume`).
        const from = Number(c.query.get('resume') ?? 0);
        for (let k = from; k < 3; k++) rec(k, `new ${k}`);
      }
    });
    t.after(() => fake.close());
    const view = subscribe(`${fake.url}/stream/x`, fast);
    t.after(() => view.close());
    const lines: string[] = [];
    const truncations: TruncationInfo[] = [];
    view.on('log', (r: LogRecordEvent) => lines.push(r.text));
    view.on('truncated', (_requested, _first, info) => truncations.push(info));
    await until(() => lines.length === 8, 3000, 'old and new records');
    assert.deepEqual(lines, ['old 0', 'old 1', 'old 2', 'old 3', 'old 4', 'new 0', 'new 1', 'new 2']);
    assert.deepEqual(truncations, [{ reason: 'epoch', requested: 5, firstAvailable: 0 }]);
    assert.equal(view.logOffset, 3);
  });

  it('an async schema applies diffs in order, each onto the previous one', async (t) => {
    const fake = await FakeRelay.start((c) => {
      c.welcome('receiver');
      c.send({ kind: 'signal-sync', state: { a: 0, b: 0 } });
      c.send({ kind: 'signal-diff', diff: { a: 1 } });
      c.send({ kind: 'signal-diff', diff: { b: 2 } });
    });
    t.after(() => fake.close());
    let calls = 0;
    const schema: StandardSchemaV1<unknown, { a: number; b: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        // The first validations are slow, the later ones fast: order must still hold.
        validate: (v) => new Promise((resolve) => setTimeout(() => resolve({ value: v as { a: number; b: number } }), Math.max(0, 60 - 25 * calls++))),
      },
    };
    const view = subscribe(`${fake.url}/stream/x`, { schema });
    t.after(() => view.close());
    const seen: unknown[] = [];
    view.on('change', ({ state }) => seen.push(state));
    await until(() => seen.length === 3, 3000, 'three states');
    assert.deepEqual(view.get(), { a: 1, b: 2 });
    assert.deepEqual(seen, [{ a: 0, b: 0 }, { a: 1, b: 0 }, { a: 1, b: 2 }]);
  });

  it('an empty first state makes the view ready', async (t) => {
    const fake = await FakeRelay.start((c) => {
      c.welcome('receiver');
      c.send({ kind: 'source-status', status: { online: false } });
      setTimeout(() => {
        c.send({ kind: 'source-status', status: { online: true } });
        c.send({ kind: 'signal-sync', state: {} });
      }, 50);
    });
    t.after(() => fake.close());
    const view = subscribe(`${fake.url}/stream/x`);
    t.after(() => view.close());
    assert.deepEqual(await view.when.ready(), {});
    await view.when.online();
    assert.equal(view.hasState, true);
  });

  it('iterators hold the latest state: a paused consumer gets the newest, not a backlog', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/many`, { initial: { n: 0 } });
    t.after(() => src.close());
    const view = subscribe<{ n: number }>(`${relay.url}/stream/many`);
    t.after(() => view.close());
    await view.when.ready();
    const it = view[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.n, 0);
    let changes = 0;
    view.on('change', () => changes++);
    for (let i = 1; i <= 200; i++) {
      src.state.n = i;
      await new Promise((r) => setImmediate(r));
    }
    await until(() => view.get().n === 200, 3000, 'all changes applied');
    assert.ok(changes > 1);
    assert.equal((await it.next()).value?.n, 200, 'the newest state, not n=1');
    const next = it.next();
    src.state.n = 201;
    assert.equal((await next).value?.n, 201);
    await it.return?.();
    assert.equal(view.iteratorCount, 0);
  });
});
