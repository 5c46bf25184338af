import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyDiff, applyPatch, composePatches, diffStates, jsonEqual, mergeInto, normalizeState } from './merge-patch.js';
import type { JsonObject, JsonValue } from './utf8.js';
import { jsonState } from '../../test/support/arbitraries.js';

describe('merge patch (RFC 7386)', () => {
  // RFC 7386 Appendix A, verbatim.
  const appendixA: Array<[JsonValue, JsonValue, JsonValue]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of appendixA) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(result)}`, () => {
      assert.deepEqual(applyPatch(target, patch), result);
    });
  }

  it('applies the RFC section 3 example', () => {
    const target = { title: 'Goodbye!', author: { givenName: 'John', familyName: 'Doe' }, tags: ['example', 'sample'], content: 'This will be unchanged' };
    const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
    assert.deepEqual(applyPatch(target, patch), {
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });

  it('does not mutate its inputs and shares untouched subtrees', () => {
    const target = { a: { x: 1 }, b: { y: 2 } };
    const snapshot = structuredClone(target);
    const out = applyPatch(target, { a: { x: 2 } }) as JsonObject;
    assert.deepEqual(target, snapshot);
    assert.equal(out.b, target.b);
    assert.equal(applyPatch(target, { a: { x: 1 } }), target, 'a no-op patch returns the same reference');
  });

  it('diff then apply reproduces the target state', () => {
    fc.assert(
      fc.property(jsonState(), jsonState(), (a, b) => {
        const d = diffStates(a, b);
        assert.ok(jsonEqual(applyDiff(a, d), b));
        if (jsonEqual(a, b)) assert.deepEqual(d, {});
      }),
      { numRuns: 500 },
    );
  });

  it('diff is minimal: it names only changed top-level fields', () => {
    fc.assert(
      fc.property(jsonState(), jsonState(), (a, b) => {
        const d = diffStates(a, b);
        for (const k of Object.keys(d)) assert.ok(!jsonEqual(a[k], b[k]), `unchanged field ${k} in diff`);
      }),
      { numRuns: 300 },
    );
  });

  it('mergeInto equals applyPatch and never aliases the patch', () => {
    fc.assert(
      fc.property(jsonState(), jsonState(), (a, b) => {
        const d = diffStates(a, b);
        const target = structuredClone(a);
        mergeInto(target, d);
        assert.ok(jsonEqual(target, b));
        const dCopy = structuredClone(d);
        mergeInto(target, { zz: 1 });
        assert.deepEqual(d, dCopy);
      }),
      { numRuns: 300 },
    );
  });

  it('composed patches equal sequential application (or refuse when inexpressible)', () => {
    fc.assert(
      fc.property(jsonState(), jsonState(), jsonState(), (s0, s1, s2) => {
        const a = diffStates(s0, s1);
        const b = diffStates(s1, s2);
        const c = composePatches(a, b);
        if (c !== undefined) assert.ok(jsonEqual(applyDiff(s0, c), s2));
      }),
      { numRuns: 500 },
    );
  });

  it('composePatches refuses object-after-replace, which RFC 7386 cannot express', () => {
    assert.equal(composePatches({ x: null }, { x: { b: 2 } }), undefined);
    assert.equal(composePatches({ x: 5 }, { x: { b: 2 } }), undefined);
    assert.deepEqual(composePatches({ x: { a: 1 } }, { x: { b: 2 }, y: null }), { x: { a: 1, b: 2 }, y: null });
  });

  it('normalizeState drops nulls at any depth outside arrays, like applyPatch({}, sync)', () => {
    const sync = { a: null, b: { c: null, d: 1, e: { f: null } }, g: [null, { h: null }], i: 2 } as JsonObject;
    const n = normalizeState(sync);
    assert.deepEqual(n, { b: { d: 1, e: {} }, g: [null, { h: null }], i: 2 });
    assert.deepEqual(n, applyPatch({}, sync));
    assert.equal(n.g, sync.g, 'arrays are values: shared, untouched');
    const clean = { a: 1, b: { c: [null] } } as JsonObject;
    assert.equal(normalizeState(clean), clean, 'no null: the same object, nothing allocated');
    const partly = { keep: { x: 1 }, drop: { y: null } } as JsonObject;
    assert.equal(normalizeState(partly).keep, partly.keep, 'untouched subtrees are shared');
  });
});
