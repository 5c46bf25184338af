// Issue #11: a source's state takes JSON data only — checked at the assignment — and values derived
// from the state itself work; undefined deletes; sources feed compose().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compose, InvalidValueError, source, subscribe } from '../../src/client/index.js';
import { SluiceError } from '../../src/protocol/errors.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

describe('client source values', () => {
  it('values derived from the state itself ([...items, x], filter, a = b) publish and keep working', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/items`, { initial: { items: [{ id: 1 }, { id: 2 }] as Array<{ id: number; tag?: string }>, copy: {} as Record<string, unknown> } });
    t.after(() => src.close());
    const view = subscribe<{ items: Array<{ id: number; tag?: string }>; copy: Record<string, unknown> }>(`${relay.url}/stream/items`);
    t.after(() => view.close());
    await view.when.ready();
    src.state.items = [...src.state.items, { id: 3 }];
    src.state.items = src.state.items.filter((i) => i.id !== 1);
    src.state.copy = { first: src.state.items[0], all: src.state.items };
    src.state.items[0]!.tag = 'x';
    src.state.items.push({ id: 4 });
    src.state.items.shift();
    await until(() => view.get().items?.length === 2 && view.get().items[0]?.id === 3, 3000, 'derived assignments published');
    assert.deepEqual(view.get(), { items: [{ id: 3 }, { id: 4 }], copy: { first: { id: 2 }, all: [{ id: 2 }, { id: 3 }] } });
    // The state is plain data: it clones, and the copy did not alias the items.
    assert.deepEqual(structuredClone(src.get()), view.get());
  });

  it('assigning undefined (or null) deletes the field at the receivers', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/undef`, { initial: { a: 1, b: 2, c: { d: 1, e: 2 } } as Record<string, unknown> });
    t.after(() => src.close());
    const view = subscribe(`${relay.url}/stream/undef`);
    t.after(() => view.close());
    await view.when.ready();
    src.state.a = undefined;
    (src.state.c as Record<string, unknown>).d = undefined;
    src.set({ b: undefined });
    await until(() => !('a' in view.get()) && !('b' in view.get()), 3000, 'deletes');
    assert.deepEqual(view.get(), { c: { e: 2 } });
    assert.deepEqual(src.get(), { c: { e: 2 } });
  });

  it('non-JSON values are a synchronous typed error at the assignment; nothing changes', () => {
    const src = source('ws://127.0.0.1:1/source/never', { initial: { ok: 1 } as Record<string, unknown>, reconnect: false });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    class Point {
      x = 1;
    }
    const bad: Array<[string, unknown]> = [
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['function', () => 1],
      ['symbol', Symbol('s')],
      ['bigint', 10n],
      ['Date', new Date()],
      ['Map', new Map()],
      ['class instance', new Point()],
      ['typed array', new Uint8Array(2)],
      ['cycle', cyclic],
      ['nested NaN', { deep: [1, { x: NaN }] }],
    ];
    for (const [what, value] of bad) {
      assert.throws(
        () => (src.state.v = value),
        (e: unknown) => e instanceof InvalidValueError && e instanceof SluiceError && e.code === 'client/invalid-value',
        what,
      );
      assert.throws(() => src.set({ v: value }), InvalidValueError, `set ${what}`);
      assert.throws(() => src.replace({ v: value }), InvalidValueError, `replace ${what}`);
    }
    const e = (() => {
      try {
        src.state.v = { deep: [1, { x: NaN }] };
      } catch (err) {
        return err as InvalidValueError;
      }
    })();
    assert.equal(e?.path, 'v.deep.1.x');
    assert.throws(() => src.set({ ok: 2, v: NaN }), InvalidValueError);
    assert.deepEqual(src.get(), { ok: 1 }, 'nothing changed, not even the valid half of the patch');
    assert.throws(() => source('ws://127.0.0.1:1/source/never', { initial: { d: new Date() }, reconnect: false }), InvalidValueError);
    void src.close();
  });

  it('a source feeds compose(); compose reports the changed paths', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const a = source(`${relay.url}/source/ca`, { initial: { n: 1, other: 0 } });
    const b = subscribe<{ m: number }>(`${relay.url}/stream/cb`);
    const bsrc = source(`${relay.url}/source/cb`, { initial: { m: 10 } });
    t.after(() => {
      void a.close();
      void b.close();
      void bsrc.close();
    });
    const localChanges: string[][] = [];
    a.subscribe((p) => localChanges.push(p));
    await b.when.ready();
    const sum = compose({ a, b }, ({ a, b }) => ({ total: a.n + (b.m ?? 0), parity: (a.n % 2 === 0 ? 'even' : 'odd') as string, fixed: 1 }));
    const paths: string[][] = [];
    sum.subscribe((p) => paths.push(p));
    assert.deepEqual(sum.get(), { total: 11, parity: 'odd', fixed: 1 });
    a.state.n = 2;
    await until(() => sum.get().total === 12, 2000, 'recomputed from the source');
    assert.deepEqual(localChanges, [['n']]);
    assert.deepEqual(paths, [['total', 'parity']]);
    bsrc.state.m = 20;
    await until(() => sum.get().total === 22, 3000, 'recomputed from the view');
    assert.deepEqual(paths.at(-1), ['total']);
    sum.close();
    // A derive that throws or yields non-JSON is an error event, never an uncaught error later.
    const bad = compose({ a }, ({ a }) => ({ ratio: a.n === 3 ? NaN : a.n }));
    const errors: unknown[] = [];
    bad.on('error', (e) => errors.push(e));
    a.state.n = 3;
    await until(() => errors.length === 1, 2000, 'derive error reported');
    assert.ok(errors[0] instanceof InvalidValueError);
    assert.deepEqual(bad.get(), { ratio: 2 }, 'the last good value stays');
    bad.close();
  });
});

describe('client source relay errors', () => {
  it('an Error frame from the relay is an error event; a 4400 makes the next picture a keyframe', async (t) => {
    const { FakeRelay } = await import('./fake-relay.js');
    const fake = await FakeRelay.start((c) => c.welcome('source'));
    t.after(() => fake.close());
    const src = source(`${fake.url}/source/px`, { mode: 'pixel' });
    t.after(() => src.close());
    const errors: unknown[] = [];
    src.on('error', (e) => errors.push(e));
    await src.when.online();
    const c = await fake.connection(0);
    const img = new Uint8Array(4 * 4 * 4);
    src.publishPixels(4, 4, img);
    img[0] = 1;
    src.publishPixels(4, 4, img);
    c.send({ kind: 'error', error: { code: 4400, name: 'BadFrame', message: 'no base picture: send a keyframe' } });
    await until(() => errors.length === 1, 2000, 'error event');
    assert.equal((errors[0] as { code: string }).code, 'relay/BadFrame');
    img[1] = 1;
    src.publishPixels(4, 4, img);
    const types = () => c.received.map((b) => b[0]).filter((x) => x === 0x01 || x === 0x03);
    await until(() => types().length === 3, 2000, 'three pictures');
    assert.deepEqual(types(), [0x01, 0x03, 0x01], 'keyframe, delta, then a keyframe again');
  });
});
