/**
 * Composition: receive several streams, derive values, re-publish them — DreamStack's layer-1
 * aggregator in a few lines:
 *
 *   const metrics = compose({ counter, clock, stats }, ({ counter, clock, stats }) => ({
 *     uptime: clock.seconds, events: (counter.count ?? 0) + (stats.total ?? 0), status: 'nominal',
 *   }));
 *   metrics.publish('ws://localhost:9100/source/metrics', { output: ['uptime', 'events', 'status'] });
 *
 * An upstream change recomputes synchronously; the published source batches it into one diff
 * in the same tick.
 */
import { diffStates, jsonEqual } from '../protocol/merge-patch.js';
import type { JsonObject, JsonValue } from '../protocol/utf8.js';
import { Emitter } from './emitter.js';
import { ClientError } from './errors.js';
import { toJsonValue } from './json-value.js';
import { source } from './source.js';
import type { Source, SourceOptions } from './source.js';
import { changedPaths } from './stream-view.js';

/** Anything with `get()` and `subscribe(cb)` — a StreamView, a Source, another Derived, a store. */
export interface Readable<T> {
  get(): T;
  subscribe(cb: (paths: string[]) => void): () => void;
}

type Values<I extends Record<string, Readable<unknown>>> = { [K in keyof I]: I[K] extends Readable<infer V> ? V : never };

export type DerivedEvents<T> = {
  change: [change: { state: T; paths: string[] }];
  /** `derive` threw, or returned a value that is not JSON data (then not published): the last good value stays. */
  error: [error: ClientError];
};

export class Derived<T extends object> extends Emitter<DerivedEvents<T>> implements Readable<T> {
  private value: T;
  private readonly offs: Array<() => void> = [];
  private readonly published: Source<T>[] = [];

  constructor(
    private readonly inputs: Record<string, Readable<unknown>>,
    private readonly derive: (values: Record<string, unknown>) => T,
  ) {
    super();
    this.value = this.compute();
    for (const input of Object.values(inputs)) this.offs.push(input.subscribe(() => this.recompute()));
  }

  private compute(): T {
    const values: Record<string, unknown> = {};
    for (const [k, r] of Object.entries(this.inputs)) values[k] = r.get();
    return this.derive(values);
  }

  private recompute(): void {
    let next: T;
    try {
      next = this.compute();
      toJsonValue(next, '');
    } catch (e) {
      // Inside an upstream's listener: a throw here would surface later as an uncaught error.
      this.emit('error', e instanceof ClientError ? e : new ClientError('client/derive-failed', `compose: derive threw: ${(e as Error)?.message ?? String(e)}`, { cause: e }));
      return;
    }
    if (jsonEqual(next as unknown as JsonValue, this.value as unknown as JsonValue)) return;
    const paths = changedPaths(diffStates(this.value as unknown as JsonObject, next as unknown as JsonObject));
    this.value = next;
    for (const s of this.published) s.replace(next);
    this.emit('change', { state: next, paths });
  }

  get(): T {
    return this.value;
  }

  subscribe(cb: (paths: string[]) => void): () => void {
    return this.on('change', (c) => cb(c.paths));
  }

  /** Publishes the derived value as a source at `url`; returns the source. */
  publish(url: string, options: Omit<SourceOptions<T>, 'initial'> = {}): Source<T> {
    const s = source<T>(url, { ...options, initial: this.value });
    this.published.push(s);
    return s;
  }

  close(): void {
    for (const off of this.offs) off();
    for (const s of this.published) void s.close();
  }
}

/** Derives a value from several readable streams; see the module comment. */
export function compose<I extends Record<string, Readable<unknown>>, T extends object>(inputs: I, derive: (values: Values<I>) => T): Derived<T> {
  return new Derived<T>(inputs, derive as (values: Record<string, unknown>) => T);
}
