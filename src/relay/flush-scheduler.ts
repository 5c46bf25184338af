/**
 * Per-tick write batching: peers queue frames during an I/O turn, and one flush at setImmediate
 * writes each peer's queue — one socket write per peer per tick instead of one per frame, which
 * is what bounds fan-out throughput. `tick` names the current batching window, so shared batches
 * know when a new one starts.
 */
export interface Flushable {
  flush(): void;
}

export class FlushScheduler {
  private pending: Flushable[] = [];
  private scheduled = false;
  /** The batching window frames are being collected in now. */
  tick = 0;

  /** `onError` hears of a peer whose flush threw; the other peers of the tick are still flushed. */
  constructor(private readonly onError: (error: unknown, peer: Flushable) => void = (e) => {
    throw e;
  }) {}

  schedule(peer: Flushable): void {
    this.pending.push(peer);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.tick++;
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) {
      try {
        p.flush();
      } catch (e) {
        this.onError(e, p);
      }
    }
  };
}
