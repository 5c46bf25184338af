// `__proto__`, `constructor`, `prototype` (and every other key) are data. Each merge/select
// function is checked against a reference model built on Maps, where no key is special: the
// JSON.stringify round-trip of the real result must equal the model, no result may have a
// prototype other than Object.prototype, and Object.prototype is never touched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyPatch, composePatches, diffStates, mergeInto, normalizeState } from '../../src/protocol/merge-patch.js';
import { getOwn, hasOwn, setOwn } from '../../src/protocol/own.js';
import { compileSelect, projectDiff, projectState } from '../../src/protocol/select.js';
import type { SelectTree } from '../../src/protocol/select.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import type { JsonObject, JsonValue } from '../../src/protocol/utf8.js';
import { HOSTILE_KEYS, hostileJson, objectFrom } from '../support/arbitraries.js';

// ---- the reference model: objects are Maps ----
type M = null | boolean | number | string | M[] | Map<string, M>;
const isMap = (v: M | undefined): v is Map<string, M> => v instanceof Map;

function toModel(v: JsonValue): M {
  if (Array.isArray(v)) return v.map(toModel);
  if (typeof v === 'object' && v !== null) return new Map(Object.keys(v).map((k) => [k, toModel(v[k]!)]));
  return v;
}
/** Canonical JSON text (sorted keys) of a model value. */
function canonM(v: M): string {
  if (Array.isArray(v)) return `[${v.map(canonM).join(',')}]`;
  if (isMap(v)) return `{${[...v.keys()].sort().map((k) => `${JSON.stringify(k)}:${canonM(v.get(k)!)}`).join(',')}}`;
  return JSON.stringify(v);
}
/** Canonical text of a real value AFTER a JSON.stringify/JSON.parse round trip. */
const canonJ = (v: JsonValue): string => canonM(toModel(JSON.parse(JSON.stringify(v)) as JsonValue));

function mEqual(a: M | undefined, b: M | undefined): boolean {
  return a !== undefined && b !== undefined && canonM(a) === canonM(b);
}
function mApply(target: M | undefined, patch: M): M {
  if (!isMap(patch)) return patch;
  const out = new Map(isMap(target) ? target : []);
  for (const [k, pv] of patch) {
    if (pv === null) out.delete(k);
    else out.set(k, mApply(out.get(k), pv));
  }
  return out;
}
function mDiff(from: Map<string, M>, to: Map<string, M>): Map<string, M> {
  const out = new Map<string, M>();
  for (const [k, tv] of to) {
    if (!from.has(k)) out.set(k, tv);
    else {
      const fv = from.get(k)!;
      if (isMap(fv) && isMap(tv)) {
        const sub = mDiff(fv, tv);
        if (sub.size > 0) out.set(k, sub);
      } else if (!mEqual(fv, tv)) out.set(k, tv);
    }
  }
  for (const k of from.keys()) if (!to.has(k)) out.set(k, null);
  return out;
}
function mCompose(a: Map<string, M>, b: Map<string, M>): Map<string, M> | undefined {
  const out = new Map(a);
  for (const [k, bv] of b) {
    if (!out.has(k)) out.set(k, bv);
    else if (isMap(bv)) {
      const av = out.get(k)!;
      if (!isMap(av)) return undefined;
      const sub = mCompose(av, bv);
      if (sub === undefined) return undefined;
      out.set(k, sub);
    } else out.set(k, bv);
  }
  return out;
}
function mProjectState(s: Map<string, M>, tree: SelectTree): Map<string, M> {
  const out = new Map<string, M>();
  for (const [k, sel] of tree) {
    if (!s.has(k)) continue;
    const v = s.get(k)!;
    if (sel === true) out.set(k, v);
    else if (isMap(v)) {
      const sub = mProjectState(v, sel);
      if (sub.size > 0) out.set(k, sub);
    }
  }
  return out;
}
function mProjectDiff(d: Map<string, M>, tree: SelectTree): Map<string, M> {
  const out = new Map<string, M>();
  for (const [k, v] of d) {
    const sel = tree.get(k);
    if (sel === undefined) continue;
    if (sel === true) out.set(k, v);
    else if (isMap(v)) {
      const sub = mProjectDiff(v, sel);
      if (sub.size > 0) out.set(k, sub);
    } else out.set(k, null);
  }
  return out;
}
const asMap = (v: JsonObject) => toModel(v) as Map<string, M>;

// ---- invariants on real results ----
const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
function assertNoPollution(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_NAMES, 'Object.prototype gained properties');
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
}
/** Every object in `v` is a plain object whose prototype was never replaced. */
function assertPlain(v: JsonValue): void {
  if (typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) return v.forEach(assertPlain);
  assert.equal(Object.getPrototypeOf(v), Object.prototype, 'a prototype was replaced');
  for (const k of Object.keys(v)) assertPlain(v[k]!);
}
function check(real: JsonValue, model: M): void {
  assertPlain(real);
  assert.equal(canonJ(real), canonM(model));
  assertNoPollution();
}

const state = hostileJson({ nulls: false });
const patch = hostileJson({ nulls: true });
const tree = fc
  .uniqueArray(fc.array(fc.constantFrom(...HOSTILE_KEYS), { minLength: 1, maxLength: 3 }).map((segs) => segs.join('.')), { minLength: 1, maxLength: 4 })
  .map(compileSelect);
const RUNS = { numRuns: 600 };

describe('reserved keys are data', () => {
  it('getOwn never returns inherited members; setOwn never sets a prototype', () => {
    const o: JsonObject = {};
    for (const k of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) assert.equal(getOwn(o, k), undefined, k);
    setOwn(o, '__proto__', { polluted: 1 });
    setOwn(o, 'constructor', 2);
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    assert.deepEqual(Object.keys(o), ['__proto__', 'constructor']);
    assert.deepEqual(getOwn(o, '__proto__'), { polluted: 1 });
    assert.ok(hasOwn(o, '__proto__'));
    assert.equal(JSON.stringify(o), '{"__proto__":{"polluted":1},"constructor":2}');
    assertNoPollution();
  });

  it('examples that used to pollute or read inherited members', () => {
    const evil = JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}}}') as JsonObject;
    const target: JsonObject = {};
    mergeInto(target, evil);
    assert.equal(JSON.stringify(target), JSON.stringify(evil));
    assert.equal(JSON.stringify(applyPatch({}, evil)), JSON.stringify(evil));
    assert.equal(JSON.stringify(diffStates({}, evil)), JSON.stringify(evil));
    // Deleting an absent reserved key is a no-op, not a read of Object.prototype.
    assert.deepEqual(diffStates({ a: 1 }, { a: 1 }), {});
    assert.equal(JSON.stringify(applyPatch({ a: 1 }, JSON.parse('{"constructor":{"x":1}}') as JsonObject)), '{"a":1,"constructor":{"x":1}}');
    assertNoPollution();
  });

  it('applyPatch matches the model', () => {
    fc.assert(fc.property(state, patch, (s, p) => check(applyPatch(s, p), mApply(asMap(s), asMap(p)))), RUNS);
  });

  it('mergeInto matches the model', () => {
    fc.assert(
      fc.property(state, patch, (s, p) => {
        const t = structuredClone(s);
        mergeInto(t, p);
        check(t, mApply(asMap(s), asMap(p)));
      }),
      RUNS,
    );
  });

  it('normalizeState matches applying the sync to {} in the model', () => {
    fc.assert(fc.property(patch, (p) => check(normalizeState(p), mApply(new Map(), asMap(p)))), RUNS);
  });

  it('diffStates matches the model, and applying it reaches the target', () => {
    fc.assert(
      fc.property(state, state, (a, b) => {
        const d = diffStates(a, b);
        check(d, mDiff(asMap(a), asMap(b)));
        check(applyPatch(a, d), asMap(b));
      }),
      RUNS,
    );
  });

  it('composePatches matches the model', () => {
    fc.assert(
      fc.property(patch, patch, (a, b) => {
        const real = composePatches(a, b);
        const model = mCompose(asMap(a), asMap(b));
        assert.equal(real === undefined, model === undefined);
        if (real !== undefined) check(real, model!);
      }),
      RUNS,
    );
  });

  it('projectState and projectDiff match the model', () => {
    fc.assert(
      fc.property(state, patch, tree, (s, d, t) => {
        check(projectState(s, t), mProjectState(asMap(s), t));
        check(projectDiff(d, t), mProjectDiff(asMap(d), t));
      }),
      RUNS,
    );
  });

  it('decoded SignalSync and SignalDiff keep reserved keys as data end to end', () => {
    fc.assert(
      fc.property(patch, (p) => {
        const m = decodeMessage(encodeMessage({ kind: 'signal-diff', diff: p }));
        assert.equal(m.kind, 'signal-diff');
        if (m.kind === 'signal-diff') check(m.diff, asMap(p));
      }),
      { numRuns: 200 },
    );
  });

  it('objectFrom builds what JSON.parse builds', () => {
    const o = objectFrom([['__proto__', { a: 1 }]]);
    assert.equal(JSON.stringify(o), JSON.stringify(JSON.parse('{"__proto__":{"a":1}}')));
  });
});
