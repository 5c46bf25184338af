/**
 * Per-tick shared batches, one per audience (a filter key, or every receiver): a frame that many
 * receivers get in the same tick is framed once and written as one slice of one buffer.
 */
import type { FlushScheduler } from './flush-scheduler.js';
import type { Peer } from './peer.js';
import { SharedBatch } from './shared-batch.js';

/** Audience of frames every receiver of a channel gets (filter audiences are keyed by strings). */
export const EVERYONE = Symbol('every receiver');
export type Audience = string | typeof EVERYONE;

export class Fanout {
  private readonly batches = new Map<Audience, SharedBatch>();

  constructor(
    private readonly scheduler: FlushScheduler,
    private readonly frameForTransport: (payload: Uint8Array) => Uint8Array,
  ) {}

  /** This tick's batch for `audience`, if frames already went to it this tick. */
  current(audience: Audience): SharedBatch | undefined {
    const b = this.batches.get(audience);
    return b !== undefined && b.tick === this.scheduler.tick ? b : undefined;
  }

  /** Appends a frame to this tick's batch for `audience`; returns the batch, the frame's index and whether the batch is new. */
  share(audience: Audience, frame: Uint8Array): [SharedBatch, number, boolean] {
    let b = this.current(audience);
    const fresh = b === undefined;
    if (b === undefined) {
      b = new SharedBatch(this.scheduler.tick);
      this.batches.set(audience, b);
    }
    return [b, b.push(frame, this.frameForTransport(frame)), fresh];
  }

  /** A peer that (re)enters an audience mid-tick follows the rest of the tick's frames. */
  follow(peer: Peer, audience: Audience): void {
    const b = this.current(audience);
    if (b) peer.joinShared(b);
  }

  /** A peer leaves an audience for the rest of the tick (before a filter change). */
  leave(peer: Peer, audience: Audience): void {
    const b = this.current(audience);
    if (b) peer.skipShared(b);
  }

  /** The audience is gone (its last member left): drop its batch. */
  forget(audience: Audience): void {
    this.batches.delete(audience);
  }
}
