/**
 * Per-tick write batching: peers queue frames during an I/O turn, and one flush at setImmediate
 * writes each peer's queue as one corked batch — one syscall per socket per tick instead of one
 * per frame, which is what bounds fan-out throughput.
 */
export interface Flushable {
  flush(): void;
}

export class FlushScheduler {
  private pending: Flushable[] = [];
  private scheduled = false;

  schedule(peer: Flushable): void {
    this.pending.push(peer);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) p.flush();
  };
}
