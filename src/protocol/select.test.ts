import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from './errors.js';
import { applyDiff, applyPatch, diffStates, jsonEqual } from './merge-patch.js';
import { compileSelect, isSelected, parseSelect, projectChange, projectDiff, projectState, selectKey } from './select.js';
import { decodeMessage, encodeMessage } from './message.js';
import { encodeFrame } from './header.js';
import { FrameType } from './frame-codes.js';
import type { JsonObject, JsonValue } from './utf8.js';
import { HOSTILE_KEYS, hostileJson, jsonState } from '../../test/support/arbitraries.js';

/** Removes empty objects (see the documented nested-deletion limit in select.ts). */
function pruneEmpty(v: JsonValue): JsonValue {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    const p = pruneEmpty(x);
    if (typeof p === 'object' && p !== null && !Array.isArray(p) && Object.keys(p).length === 0) continue;
    out[k] = p;
  }
  return out;
}

describe('select', () => {
  it('parses URL and array forms, dedupes and sorts', () => {
    assert.deepEqual(parseSelect('b, a.c ,a.c,'), ['a.c', 'b']);
    assert.deepEqual(parseSelect(['x']), ['x']);
    assert.equal(parseSelect(''), null);
    assert.equal(parseSelect([]), null);
    assert.equal(parseSelect(undefined), null);
    assert.equal(selectKey(parseSelect('b,a')), '["a","b"]');
  });

  it('refuses malformed paths with a ProtocolError', () => {
    for (const bad of ['a..b', '.a', 'a.', 'x'.repeat(300), Array.from({ length: 20 }, () => 'a').join('.')]) {
      assert.throws(() => parseSelect(bad), ProtocolError, bad);
    }
    assert.throws(() => parseSelect(Array.from({ length: 300 }, (_, i) => `f${i}`)), ProtocolError);
  });

  it('projects states onto top-level and nested paths', () => {
    const state = { count: 3, doubled: 6, player: { pos: { x: 1, y: 2 }, name: 'ann' }, secret: 'no' };
    assert.deepEqual(projectState(state, compileSelect(['count', 'player.pos'])), { count: 3, player: { pos: { x: 1, y: 2 } } });
    assert.deepEqual(projectState(state, compileSelect(['player.pos.x'])), { player: { pos: { x: 1 } } });
    assert.deepEqual(projectState(state, compileSelect(['player', 'player.pos'])), { player: state.player });
    assert.deepEqual(projectState(state, compileSelect(['missing.path'])), {});
  });

  it('projects diffs; untouched diffs project to {}', () => {
    const tree = compileSelect(['count', 'player.pos']);
    assert.deepEqual(projectDiff({ doubled: 8 }, tree), {});
    assert.deepEqual(projectDiff({ player: { name: 'bob' } }, tree), {});
    assert.deepEqual(projectDiff({ count: 4, doubled: 8 }, tree), { count: 4 });
    assert.deepEqual(projectDiff({ player: { pos: { x: 5 }, name: 'z' } }, tree), { player: { pos: { x: 5 } } });
    assert.deepEqual(projectDiff({ player: null }, tree), { player: null });
    assert.deepEqual(projectDiff({ player: 7 }, tree), { player: null }, 'a parent replaced by a scalar drops the selected subtree');
  });

  it('isSelected answers for dotted paths', () => {
    const tree = compileSelect(['count', 'player.pos']);
    assert.ok(isSelected(tree, 'count'));
    assert.ok(isSelected(tree, 'player.pos.x'));
    assert.ok(!isSelected(tree, 'player.name'));
    assert.ok(isSelected(null, 'anything'));
  });

  it('top-level select: apply(project(s), projectDiff(d)) == project(apply(s, d)) exactly', () => {
    const sel = fc.subarray(['a', 'b', 'c', 'count', 'player', 'pos', 'x', 'y', 'name', 'tags'], { minLength: 1 });
    fc.assert(
      fc.property(jsonState(), jsonState(), sel, (s0, s1, paths) => {
        const tree = compileSelect(paths);
        const d = diffStates(s0, s1);
        const viaDiff = applyDiff(projectState(s0, tree), projectDiff(d, tree));
        assert.ok(jsonEqual(viaDiff, projectState(s1, tree)));
      }),
      { numRuns: 500 },
    );
  });

  it('nested select: the same holds up to empty parent objects', () => {
    const sel = fc.subarray(['player.pos', 'player.name', 'a.b', 'a.c.x', 'count', 'x.y'], { minLength: 1 });
    fc.assert(
      fc.property(jsonState(), jsonState(), sel, (s0, s1, paths) => {
        const tree = compileSelect(paths);
        const d = diffStates(s0, s1);
        const viaDiff = applyDiff(projectState(s0, tree), projectDiff(d, tree));
        assert.ok(jsonEqual(pruneEmpty(viaDiff), pruneEmpty(projectState(s1, tree))));
      }),
      { numRuns: 500 },
    );
  });

  it('* means everything, alone or among other paths, in both forms', () => {
    for (const sel of ['*', ' * ', 'a,*', ['*'], ['a', '*', 'b.c']] as const) assert.equal(parseSelect(sel), null, JSON.stringify(sel));
    assert.deepEqual(parseSelect('a.*'), ['a.*'], 'only the whole path * is special');
    assert.throws(() => parseSelect(['*', 'a..b']), ProtocolError, 'other paths are still validated');
  });

  it('validates arrays exactly like strings', () => {
    for (const bad of [['a..b'], ['.a'], ['a.'], ['x'.repeat(300)], [Array.from({ length: 20 }, () => 'a').join('.')], [1] as unknown[], [null] as unknown[]]) {
      assert.throws(() => parseSelect(bad), ProtocolError, JSON.stringify(bad));
    }
    assert.deepEqual(parseSelect([' b', 'a', 'b ']), ['a', 'b']);
    assert.deepEqual(parseSelect(['a,b']), ['a,b'], 'a key with a comma is one path in the array form');
  });

  it('selectKey is unambiguous: no-filter, comma-bearing paths and order', () => {
    assert.equal(selectKey(null), '');
    assert.notEqual(selectKey(['a,b']), selectKey(['a', 'b']));
    assert.equal(selectKey(['b', 'a', 'a']), selectKey(['a', 'b']));
    assert.notEqual(selectKey(['*x']), selectKey(null));
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 }), (a, b) => {
        const same = jsonEqual([...new Set(a)].sort(), [...new Set(b)].sort());
        assert.equal(selectKey(a) === selectKey(b), same);
        assert.notEqual(selectKey(a), selectKey(null));
      }),
      { numRuns: 500 },
    );
  });

  it('Hello.select goes through parseSelect: bad paths are refused with 4400, * means everything', () => {
    const hello = (json: string) => encodeFrame({ type: FrameType.Hello }, new TextEncoder().encode(json));
    for (const bad of ['{"select":["a..b"]}', '{"select":[1]}', '{"select":"a"}', `{"select":["${'x'.repeat(300)}"]}`]) {
      assert.throws(() => decodeMessage(hello(bad)), (e: unknown) => e instanceof ProtocolError && e.closeCode === 4400, bad);
    }
    const m = decodeMessage(hello('{"select":["b","a","b"]}'));
    assert.ok(m.kind === 'hello' && jsonEqual(m.hello.select, ['a', 'b']));
    const all = decodeMessage(hello('{"select":["*"]}'));
    assert.ok(all.kind === 'hello' && jsonEqual(all.hello.select, []));
    const sf = decodeMessage(encodeMessage({ kind: 'subscribe-filter', select: ['*'] }));
    assert.ok(sf.kind === 'subscribe-filter' && sf.select === null);
  });

  it('projectChange deletes a parent whose last selected leaf went away (projectDiff cannot)', () => {
    const tree = compileSelect(['player.pos']);
    const s0 = { player: { pos: 1, name: 'a' } };
    const s1 = { player: { name: 'a' } };
    assert.deepEqual(projectDiff({ player: { pos: null } }, tree), { player: { pos: null } });
    assert.deepEqual(projectChange(s0, s1, tree), { player: null });
    assert.deepEqual(projectChange(s0, s0, tree), {});
    assert.deepEqual(projectChange(s0, { player: { pos: 1, name: 'b' } }, tree), {}, 'an unselected change projects to nothing');
    assert.deepEqual(projectChange({}, s0, tree), { player: { pos: 1 } });
  });

  const patchOver = (keys: readonly string[]) => {
    const { patch } = fc.letrec<{ value: JsonValue; patch: JsonObject }>((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.integer({ min: 0, max: 3 }), fc.array(fc.integer(), { maxLength: 2 }), tie('patch')),
      patch: fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 4, noNullPrototype: true }) as fc.Arbitrary<JsonObject>,
    }));
    return patch;
  };
  const treeOver = (keys: readonly string[]) =>
    fc.uniqueArray(fc.array(fc.constantFrom(...keys), { minLength: 1, maxLength: 3 }).map((segs) => segs.join('.')), { minLength: 1, maxLength: 5 }).map(compileSelect);
  const KEYS = ['a', 'b', 'c', 'count', 'player', 'pos', 'x', 'y', 'name', 'tags'];

  it('projectChange: a live receiver always equals projectState(source), and the patch is minimal', () => {
    const property = (s: JsonObject, d: JsonObject, t: ReturnType<typeof compileSelect>) => {
      const s1 = applyDiff(s, d);
      const change = projectChange(s, s1, t);
      const receiver = applyPatch(projectState(s, t), change);
      assert.ok(jsonEqual(receiver, projectState(s1, t)), `${JSON.stringify(receiver)} != ${JSON.stringify(projectState(s1, t))}`);
      assert.ok(jsonEqual(change, diffStates(projectState(s, t), projectState(s1, t))), 'minimal');
    };
    fc.assert(fc.property(jsonState(), patchOver(KEYS), treeOver(KEYS), property), { numRuns: 1500 });
    fc.assert(fc.property(jsonState(), jsonState(), treeOver(KEYS), (s0, s1, t) => property(s0, diffStates(s0, s1), t)), { numRuns: 500 });
    fc.assert(fc.property(hostileJson({ nulls: false }), hostileJson({ nulls: true }), treeOver(HOSTILE_KEYS), property), { numRuns: 500 });
  });

  it('projectChange is cheap on shared structure: an untouched subtree is skipped by identity', () => {
    const big: JsonObject = {};
    for (let i = 0; i < 10_000; i++) big[`k${i}`] = { v: i };
    const s0 = { big, n: 1 } as JsonObject;
    const s1 = applyDiff(s0, { n: 2 });
    const tree = compileSelect(['big', 'n']);
    const t = performance.now();
    for (let i = 0; i < 1000; i++) projectChange(s0, s1, tree);
    assert.deepEqual(projectChange(s0, s1, tree), { n: 2 });
    assert.ok(performance.now() - t < 200, 'identity short-cut, not a deep walk of big');
  });
});
