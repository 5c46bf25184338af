/**
 * An async iterator that holds only the latest value (conflation, like the relay's for slow
 * receivers): a consumer that pauses gets the newest state next, never a backlog of stale ones.
 * `stop()` settles a waiting `next()` and ends the loop (after the value still held, if any);
 * `stop(error)` makes the loop throw. `return()` (a `break` out of `for await`) detaches it.
 * Modelled on nats.js's queued iterator, minus the queue.
 */
export class LatestValueIterator<T> implements AsyncIterableIterator<T> {
  private held: { value: T } | undefined;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private ended = false;
  private failure: Error | undefined;

  constructor(private readonly detach: () => void) {}

  /** Offers a new value: it replaces the one not yet taken. */
  push(value: T): void {
    if (this.ended) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value, done: false });
    } else this.held = { value };
  }

  /** Ends the iteration (with `error`: the loop throws it). Idempotent. */
  stop(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.detach();
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (error) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  get done(): boolean {
    return this.ended;
  }

  next(): Promise<IteratorResult<T>> {
    const h = this.held;
    if (h) {
      this.held = undefined;
      return Promise.resolve({ value: h.value, done: false });
    }
    if (this.ended) {
      const e = this.failure;
      this.failure = undefined;
      return e ? Promise.reject(e) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.held = undefined;
    this.failure = undefined;
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
