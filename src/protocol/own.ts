/**
 * Own-property access for objects built from untrusted keys. JSON objects that arrive from peers
 * may use any key — `__proto__`, `constructor`, `prototype`, `toString` — and those keys are data
 * like any other:
 *
 * - reading `obj[key]` on a plain object returns INHERITED members for keys it does not own
 *   (`({})['__proto__']` is Object.prototype, `({})['constructor']` is Object): {@link getOwn}
 *   treats them as absent;
 * - writing `obj['__proto__'] = v` replaces the object's prototype instead of storing a field:
 *   {@link setOwn} defines an own data property for that key (every other key is a plain
 *   assignment, which always creates or updates an own property on a plain object).
 *
 * Both are a key comparison or an own-property check on top of the plain access, so they are
 * cheap enough for the per-frame path.
 */

const hasOwnProperty = Object.prototype.hasOwnProperty;

/** True when `obj` has its own property `key` (inherited members do not count). */
export function hasOwn(obj: object, key: string): boolean {
  return hasOwnProperty.call(obj, key);
}

/** `obj[key]` when `obj` owns `key`, otherwise `undefined` (never an inherited member). */
export function getOwn<V>(obj: { [key: string]: V }, key: string): V | undefined {
  return hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** Stores `value` as an own, enumerable data property `key` of `obj`, whatever the key. */
export function setOwn<V>(obj: { [key: string]: V }, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}
