/**
 * React binding on useSyncExternalStore (tear-free under concurrent rendering), StrictMode-safe.
 *
 *   const counter = subscribe<{ count: number }>('ws://localhost:9100/stream/counter');
 *   function Counter() {
 *     const count = useStream(counter, (s) => s.count);   // re-renders only when count changes
 *     return <button onClick={() => counter.send({ type: 'inc' })}>{count}</button>;
 *   }
 *
 * `useStream(url, options)` opens the view itself — never during render: it is acquired when React
 * subscribes (a commit-phase effect) and shared, ref-counted, by every component using the same
 * URL and options. The last release closes it after the current task, so StrictMode's simulated
 * unmount/remount keeps one connection instead of closing the one it then shows.
 */
import { useCallback, useRef, useSyncExternalStore } from 'react';
import { subscribe } from './stream-view.js';
import type { StreamView, SubscribeOptions } from './stream-view.js';
import type { Readable } from './compose.js';

interface Shared {
  view: StreamView<unknown>;
  refs: number;
  closeTimer: ReturnType<typeof setTimeout> | undefined;
}

const shared = new Map<string, Shared>();
const EMPTY = Object.freeze({});
const ids = new WeakMap<object, number>();
let nextId = 0;

/** A key for url + options: plain data by value, functions and schema objects by identity. */
function keyOf(url: string, options: SubscribeOptions<unknown> | undefined): string {
  const idOf = (o: object) => {
    let id = ids.get(o);
    if (id === undefined) ids.set(o, (id = ++nextId));
    return `#${id}`;
  };
  return `${url} ${JSON.stringify(options ?? {}, (k, v: unknown) => (typeof v === 'function' || (k !== '' && typeof v === 'object' && v !== null && !Array.isArray(v) && k === 'schema') ? idOf(v as object) : v))}`;
}

function acquire(key: string, create: () => StreamView<unknown>): StreamView<unknown> {
  let s = shared.get(key);
  if (!s) shared.set(key, (s = { view: create(), refs: 0, closeTimer: undefined }));
  if (s.closeTimer !== undefined) clearTimeout(s.closeTimer);
  s.closeTimer = undefined;
  s.refs++;
  return s.view;
}

function release(key: string): void {
  const s = shared.get(key);
  if (!s || --s.refs > 0) return;
  s.closeTimer = setTimeout(() => {
    if (s.refs > 0 || shared.get(key) !== s) return;
    shared.delete(key);
    void s.view.close();
  }, 0);
}

/** Views opened by `useStream(url)` and still held (for tests and leak checks). */
export function sharedViewCount(): number {
  return shared.size;
}

type Selector<T, S> = (state: T) => S;

/** Subscribes a component to a view, a source, a derived value or any `get`/`subscribe` store. */
export function useStream<T>(store: Readable<T>): T;
/** …re-rendering only when `selector(state)` changes (compared with Object.is). */
export function useStream<T, S>(store: Readable<T>, selector: Selector<T, S>): S;
/** Opens (or shares) a view of `url` while the component is mounted; `{}` until the first state. */
export function useStream<T>(url: string, options?: SubscribeOptions<T>): T;
export function useStream<T, S>(url: string, options: SubscribeOptions<T> | undefined, selector: Selector<T, S>): S;
export function useStream<T, S>(
  storeOrUrl: Readable<T> | string,
  optionsOrSelector?: SubscribeOptions<T> | Selector<T, S>,
  maybeSelector?: Selector<T, S>,
): T | S {
  const isUrl = typeof storeOrUrl === 'string';
  const options = isUrl ? (optionsOrSelector as SubscribeOptions<T> | undefined) : undefined;
  const selector = isUrl ? maybeSelector : (optionsOrSelector as Selector<T, S> | undefined);
  const key = isUrl ? keyOf(storeOrUrl, options as SubscribeOptions<unknown> | undefined) : '';
  const latestOptions = useRef(options);
  latestOptions.current = options;

  const sub = useCallback(
    (onChange: () => void) => {
      if (typeof storeOrUrl !== 'string') return storeOrUrl.subscribe(() => onChange());
      const url = storeOrUrl;
      const view = acquire(key, () => subscribe<unknown>(url, latestOptions.current as SubscribeOptions<unknown> | undefined));
      const off = view.subscribe(() => onChange());
      onChange(); // the view may already hold a state
      return () => {
        off();
        release(key);
      };
    },
    [storeOrUrl, key],
  );

  const read = (): T => (typeof storeOrUrl === 'string' ? ((shared.get(key)?.view.get() as T | undefined) ?? (EMPTY as T)) : storeOrUrl.get());
  const memo = useRef<{ state: T; selector: Selector<T, S>; value: S } | undefined>(undefined);
  const snapshot = (): T | S => {
    const state = read();
    if (!selector) return state;
    const m = memo.current;
    if (m && m.state === state && m.selector === selector) return m.value;
    const value = selector(state);
    // Keep the previous reference when the selection did not change (no re-render).
    memo.current = { state, selector, value: m && Object.is(m.value, value) ? m.value : value };
    return memo.current.value;
  };
  return useSyncExternalStore(sub, snapshot, snapshot);
}

/** The view itself, for status (`connectionState`, `latencyMs`) and `send`. */
export type { StreamView };
