/**
 * The gate between app values and a source's state: what goes in must be JSON data, checked
 * synchronously at the assignment (never a crash later in a clone, never a silent delete).
 * Values are copied, so the state never aliases app objects or its own proxies.
 */
import type { JsonValue } from '../protocol/utf8.js';
import { InvalidValueError } from './errors.js';

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  const ctor = (v as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `a ${ctor}` : 'an exotic object';
}

/**
 * A JSON copy of `value`, or `undefined` for `undefined` (which, like JSON, means "absent").
 * `unwrap` maps one of the caller's proxies to its target. Inside objects, `undefined` and `null`
 * members are dropped (state never holds null: null deletes); inside arrays they become null, as
 * in JSON. Throws {@link InvalidValueError} for anything JSON cannot carry faithfully.
 */
export function toJsonValue(value: unknown, path: string, unwrap: (o: object) => object = (o) => o, stack: Set<object> = new Set()): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidValueError(path, describe(value));
      return value;
    case 'undefined':
      return undefined;
    case 'object':
      break;
    default:
      throw new InvalidValueError(path, describe(value));
  }
  if (value === null) return null;
  const o = unwrap(value);
  if (stack.has(o)) throw new InvalidValueError(path, 'a cycle');
  stack.add(o);
  try {
    if (Array.isArray(o)) {
      const out: JsonValue[] = new Array<JsonValue>(o.length);
      for (let i = 0; i < o.length; i++) out[i] = toJsonValue(o[i], join(path, i), unwrap, stack) ?? null;
      return out;
    }
    const proto = Object.getPrototypeOf(o) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new InvalidValueError(path, describe(o));
    if (Object.getOwnPropertySymbols(o).length > 0) throw new InvalidValueError(path, 'an object with symbol keys');
    const out: Record<string, JsonValue> = {};
    for (const k of Object.keys(o)) {
      const v = toJsonValue((o as Record<string, unknown>)[k], join(path, k), unwrap, stack);
      // defineProperty: `__proto__` and friends are data like any other key.
      if (v !== undefined && v !== null) Object.defineProperty(out, k, { value: v, writable: true, enumerable: true, configurable: true });
    }
    return out;
  } finally {
    stack.delete(o);
  }
}

/** A deep copy of JSON data (own `__proto__` keys stay data). */
export function cloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
