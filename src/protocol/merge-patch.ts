/**
 * State diffs are JSON merge patches (RFC 7386): objects merge recursively, `null` deletes,
 * anything else (arrays included) replaces. Consequence worth knowing: a state cannot hold
 * `null` values — setting a field to `null` deletes it (see {@link normalizeState}).
 *
 * Every key is data, `__proto__`, `constructor` and `prototype` included: reads go through
 * {@link getOwn} (an inherited member is absent) and writes of untrusted keys through
 * {@link setOwn} (never a prototype change), so no input can pollute or reshape objects.
 */
import { getOwn, hasOwn, setOwn } from './own.js';
import { isJsonObject } from './utf8.js';
import type { JsonObject, JsonValue } from './utf8.js';

/**
 * RFC 7386 MergePatch(target, patch). Pure: returns a new value and never mutates its inputs;
 * untouched subtrees are shared with `target` (structural sharing), so unchanged parts keep
 * their identity.
 */
export function applyPatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const base: JsonObject = isJsonObject(target) ? target : {};
  let out: JsonObject | undefined;
  for (const key of Object.keys(patch)) {
    const pv = patch[key]!;
    if (pv === null) {
      if (hasOwn(base, key)) {
        out ??= { ...base };
        delete out[key];
      }
      continue;
    }
    const cur = getOwn(base, key);
    const next = applyPatch(cur, pv);
    if (next !== cur) {
      out ??= { ...base };
      setOwn(out, key, next);
    }
  }
  return out ?? (base === target ? base : {});
}

/**
 * A state as the relay and views hold it: `null` members dropped at any depth outside arrays —
 * exactly `applyPatch({}, obj)`, since a state cannot hold `null`. Returns `obj` itself (no
 * allocation) when it holds no such `null`; otherwise a copy that shares the untouched subtrees.
 * The relay applies it to every SignalSync.
 */
export function normalizeState(obj: JsonObject): JsonObject {
  let out: JsonObject | undefined;
  for (const key of Object.keys(obj)) {
    const v = obj[key]!;
    if (v === null) {
      out ??= { ...obj };
      delete out[key];
    } else if (isJsonObject(v)) {
      const n = normalizeState(v);
      if (n !== v) {
        out ??= { ...obj };
        setOwn(out, key, n);
      }
    }
  }
  return out ?? obj;
}

/** Applies a patch to an object state (the usual case); a non-object result becomes `{}`. */
export function applyDiff(state: JsonObject, diff: JsonObject): JsonObject {
  const next = applyPatch(state, diff);
  return isJsonObject(next) ? next : {};
}

/**
 * Mutating merge, for owners of a private copy (the relay's merged cache, a conflation buffer):
 * merges `patch` into `target` in place. Nested objects that came from `patch` are cloned first,
 * so `target` never aliases the patch.
 */
export function mergeInto(target: JsonObject, patch: JsonObject): void {
  for (const key of Object.keys(patch)) {
    const pv = patch[key]!;
    if (pv === null) {
      delete target[key];
    } else if (isJsonObject(pv)) {
      const cur = getOwn(target, key);
      if (isJsonObject(cur)) mergeInto(cur, pv);
      else {
        const fresh: JsonObject = {};
        mergeInto(fresh, pv);
        setOwn(target, key, fresh);
      }
    } else {
      setOwn(target, key, pv);
    }
  }
}

/**
 * Composes two patches into one: applying the result equals applying `a` then `b`.
 * Used to conflate many diffs into ONE for a receiver that fell behind.
 *
 * Returns `undefined` when no single merge patch can express the pair: `a` sets a field to a
 * non-object (or deletes it) and `b` then sets it to an object, which RFC 7386 would merge into
 * the target's old object instead of replacing it. Callers then send a full sync instead.
 */
export function composePatches(a: JsonObject, b: JsonObject): JsonObject | undefined {
  const out: JsonObject = { ...a };
  for (const key of Object.keys(b)) {
    const bv = b[key]!;
    if (!hasOwn(out, key)) {
      setOwn(out, key, bv);
      continue;
    }
    const av = out[key]!;
    if (isJsonObject(bv)) {
      if (!isJsonObject(av)) return undefined;
      const sub = composePatches(av, bv);
      if (sub === undefined) return undefined;
      setOwn(out, key, sub);
    } else {
      setOwn(out, key, bv);
    }
  }
  return out;
}

/**
 * The minimal merge patch turning `from` into `to`: unchanged fields are omitted, removed
 * fields become `null`, nested objects are diffed recursively. Returns `{}` when equal.
 */
export function diffStates(from: JsonObject, to: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(to)) {
    const tv = to[key]!;
    if (!hasOwn(from, key)) {
      setOwn(out, key, tv);
      continue;
    }
    const fv = from[key]!;
    if (fv === tv) continue;
    if (isJsonObject(tv) && isJsonObject(fv)) {
      const sub = diffStates(fv, tv);
      if (Object.keys(sub).length > 0) setOwn(out, key, sub);
    } else if (!jsonEqual(fv, tv)) {
      setOwn(out, key, tv);
    }
  }
  for (const key of Object.keys(from)) {
    if (!hasOwn(to, key)) setOwn(out, key, null);
  }
  return out;
}

/** Deep structural equality of JSON values (key order ignored). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) {
    if (!hasOwn(b, k) || !jsonEqual(a[k], b[k])) return false;
  }
  return true;
}

/** Deep copy of a JSON value. */
export function cloneJson<T extends JsonValue>(v: T): T {
  return structuredClone(v);
}
