/**
 * State diffs are JSON merge patches (RFC 7386): objects merge recursively, `null` deletes,
 * anything else (arrays included) replaces. Consequence worth knowing: a state cannot hold
 * `null` values — setting a field to `null` deletes it.
 */
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
      if (Object.prototype.hasOwnProperty.call(base, key)) {
        out ??= { ...base };
        delete out[key];
      }
      continue;
    }
    const next = applyPatch(base[key], pv);
    if (next !== base[key]) {
      out ??= { ...base };
      out[key] = next;
    }
  }
  return out ?? (base === target ? base : {});
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
      const cur = target[key];
      if (isJsonObject(cur)) mergeInto(cur, pv);
      else {
        const fresh: JsonObject = {};
        mergeInto(fresh, pv);
        target[key] = fresh;
      }
    } else {
      target[key] = pv;
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
    if (!Object.prototype.hasOwnProperty.call(out, key)) {
      out[key] = bv;
      continue;
    }
    const av = out[key]!;
    if (isJsonObject(bv)) {
      if (!isJsonObject(av)) return undefined;
      const sub = composePatches(av, bv);
      if (sub === undefined) return undefined;
      out[key] = sub;
    } else {
      out[key] = bv;
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
    if (!Object.prototype.hasOwnProperty.call(from, key)) {
      out[key] = tv;
      continue;
    }
    const fv = from[key]!;
    if (fv === tv) continue;
    if (isJsonObject(tv) && isJsonObject(fv)) {
      const sub = diffStates(fv, tv);
      if (Object.keys(sub).length > 0) out[key] = sub;
    } else if (!jsonEqual(fv, tv)) {
      out[key] = tv;
    }
  }
  for (const key of Object.keys(from)) {
    if (!Object.prototype.hasOwnProperty.call(to, key)) out[key] = null;
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
    if (!Object.prototype.hasOwnProperty.call(b, k) || !jsonEqual(a[k], b[k])) return false;
  }
  return true;
}

/** Deep copy of a JSON value. */
export function cloneJson<T extends JsonValue>(v: T): T {
  return structuredClone(v);
}
