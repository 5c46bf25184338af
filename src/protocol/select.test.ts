import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from './errors.js';
import { applyDiff, diffStates, jsonEqual } from './merge-patch.js';
import { compileSelect, isSelected, parseSelect, projectDiff, projectState, selectKey } from './select.js';
import type { JsonObject, JsonValue } from './utf8.js';
import { jsonState } from '../../test/support/arbitraries.js';

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
    assert.equal(selectKey(parseSelect('b,a')), 'a,b');
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
});
