/**
 * Pixel channels: every receiver follows the shared frames; one that falls behind skips frames
 * and, once it drains, gets the current picture (a Keyframe the relay keeps up to date by applying
 * deltas to its own copy) — so a skipped delta can never corrupt what it shows.
 *
 * "Behind" means holding more than the high-water mark on top of one whole picture: a keyframe
 * alone can be far bigger than the mark (a 720p one is 3.7 MB), and a receiver still reading the
 * one it was just sent must get the deltas that follow, not another keyframe each time.
 *
 * A receiver that paused media (ReceiverPeer.mediaPaused) is treated like one that is behind,
 * without counting as slow: it skips every picture frame and, when it resumes, gets the current
 * picture — only if it missed a change, and never more than one pending (see {@link resume}).
 */
import { EVERYONE } from '../fanout.js';
import type { Fanout } from '../fanout.js';
import type { ReceiverPeer } from '../receiver-peer.js';
import type { StateCache } from '../state-cache.js';

/** What the picture policy keeps per receiver. */
export class PictureSlot {
  /** Skipped frames while behind or paused: the next thing it gets is the whole current picture. */
  needPicture = false;
}

export class PicturePolicy {
  constructor(
    private readonly cache: () => StateCache,
    private readonly fanout: Fanout,
    private readonly highWater: number,
    private readonly countSkipped: () => void,
  ) {}

  /** Queued bytes past which a receiver is behind: the mark on top of one picture. */
  private limit(): number {
    return this.highWater + this.cache().pictureBytes;
  }

  /** A late joiner gets the current picture (a paused one when it resumes). */
  join(r: ReceiverPeer): void {
    if (r.mediaPaused) {
      r.pictureSlot.needPicture = this.cache().hasPicture;
      return;
    }
    const pf = this.cache().pictureFrame();
    if (pf) r.enqueue(pf);
  }

  /** A picture (self-contained) or a delta against the previous one, already applied to the cache. */
  deliver(receivers: Iterable<ReceiverPeer>, raw: Uint8Array, isDelta: boolean): void {
    const [batch, i] = this.fanout.share(EVERYONE, raw);
    const limit = this.limit();
    for (const r of receivers) {
      if (r.pending) continue;
      const slot = r.pictureSlot;
      if (r.mediaPaused) {
        r.skipShared(batch);
        slot.needPicture = true;
      } else if (r.queuedBytes > limit) {
        r.skipShared(batch);
        slot.needPicture = true;
        this.countSkipped();
      } else if (isDelta && slot.needPicture) {
        // It skipped deltas: send the current picture (which already includes this delta).
        r.skipShared(batch);
        r.enqueue(this.cache().pictureFrame()!);
        slot.needPicture = false;
      } else {
        r.enqueueShared(batch, i);
        slot.needPicture = false;
      }
    }
  }

  /** An empty Keyframe: the picture is gone. Whoever is behind learns it when it drains. */
  reset(receivers: Iterable<ReceiverPeer>, raw: Uint8Array): void {
    this.lastReset = raw;
    const [batch, i] = this.fanout.share(EVERYONE, raw);
    const limit = this.limit();
    for (const r of receivers) {
      if (r.pending) continue;
      if (r.mediaPaused || r.queuedBytes > limit) {
        r.skipShared(batch);
        r.pictureSlot.needPicture = true;
        continue;
      }
      r.pictureSlot.needPicture = false;
      r.enqueueShared(batch, i);
    }
  }
  private lastReset: Uint8Array | undefined;

  onDrain(r: ReceiverPeer): void {
    if (!r.pictureSlot.needPicture || r.mediaPaused) return;
    r.pictureSlot.needPicture = false;
    const pf = this.cache().pictureFrame() ?? this.lastReset;
    if (pf) r.enqueue(pf);
  }

  /**
   * The receiver resumed media (it was unpaused by the caller). It holds the last picture frame it
   * was sent; if it missed a change while paused, it gets the current picture now, or — when it
   * is behind — once it drains. A receiver toggling media fast cannot multiply keyframes: one is
   * owed only after a skipped change (at most one per source frame), and at most one is pending.
   */
  resume(r: ReceiverPeer): void {
    if (r.queuedBytes <= this.highWater) this.onDrain(r);
  }

  needsDrain(r: ReceiverPeer): boolean {
    return r.pictureSlot.needPicture && !r.mediaPaused;
  }
}
