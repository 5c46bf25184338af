/**
 * React binding: `useStream(view)` re-renders when the view's state changes, through
 * useSyncExternalStore (so it is tear-free under concurrent rendering).
 *
 *   const counter = subscribe<{ count: number }>('ws://localhost:9100/stream/counter');
 *   function Counter() {
 *     const { count } = useStream(counter);
 *     return <button onClick={() => counter.send({ type: 'inc' })}>{count}</button>;
 *   }
 */
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { subscribe } from './stream-view.js';
import type { StreamView, SubscribeOptions } from './stream-view.js';
import type { Readable } from './compose.js';

/** Subscribes a component to a view (or any `get`/`subscribe` store). */
export function useStream<T>(store: Readable<T>): T;
/** Opens a view for the component's lifetime and subscribes to it. */
export function useStream<T>(url: string, options?: SubscribeOptions<T>): T;
export function useStream<T>(storeOrUrl: Readable<T> | string, options?: SubscribeOptions<T>): T {
  const owned = useMemo(() => (typeof storeOrUrl === 'string' ? subscribe<T>(storeOrUrl, options) : undefined), [storeOrUrl]);
  useEffect(() => () => void owned?.close(), [owned]);
  const store: Readable<T> = owned ?? (storeOrUrl as Readable<T>);
  return useSyncExternalStore(
    (onChange) => store.subscribe(() => onChange()),
    () => store.get(),
    () => store.get(),
  );
}

/** The view itself, for status (`connected`, `latencyMs`) and `send`. */
export type { StreamView };
