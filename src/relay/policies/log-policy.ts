/**
 * Log channels: ordered records with relay-assigned offsets. A late joiner replays the retained
 * history (from `?resume=N`, a Resume frame or Hello.resumeFrom, else the oldest record) at its
 * own pace — one high-water mark's worth per flush — then follows live records. A live receiver
 * that stops reading is buffered up to `--log-receiver-max-bytes`, then closed with 4413: it
 * resumes from its last offset, so nothing is lost and nothing is held without bound.
 */
import { encodeMessage } from '../../protocol/message.js';
import { EVERYONE } from '../fanout.js';
import type { Fanout } from '../fanout.js';
import type { ReceiverPeer } from '../receiver-peer.js';
import type { StateCache } from '../state-cache.js';

/** What the log policy keeps per receiver. */
export class LogSlot {
  /** Next log offset this receiver needs. */
  cursor = 0;
  /** Replaying retained history at its own pace; live records wait until it catches up. */
  replay = false;
}

export class LogPolicy {
  constructor(
    private readonly cache: () => StateCache,
    private readonly fanout: Fanout,
    private readonly highWater: number,
    private readonly maxQueued: number,
    private readonly tooSlow: (r: ReceiverPeer, message: string) => void,
  ) {}

  /** A receiver goes live: history from `resume` (or the oldest record), then live records. */
  join(r: ReceiverPeer, resume: number | undefined): void {
    const log = this.cache().log;
    if (resume !== undefined || log.next > 0) this.startReplay(r, resume ?? log.first);
    else r.logSlot.cursor = log.next;
  }

  startReplay(r: ReceiverPeer, from: number): void {
    const log = this.cache().log;
    if (from > log.next) {
      // The receiver saw offsets this log never had (the log restarted): say so, then start over.
      r.enqueue(encodeMessage({ kind: 'history-truncated', requested: from, firstAvailable: log.first }));
      from = log.first;
    }
    r.logSlot.cursor = from;
    r.logSlot.replay = true;
    this.pump(r);
  }

  /** Sends retained records to a replaying receiver, one high-water mark's worth per turn. */
  pump(r: ReceiverPeer): void {
    const slot = r.logSlot;
    if (r.closed || !slot.replay) return;
    const log = this.cache().log;
    while (slot.cursor < log.next && r.queuedBytes < this.highWater) {
      if (slot.cursor < log.first) {
        r.enqueue(encodeMessage({ kind: 'history-truncated', requested: slot.cursor, firstAvailable: log.first }));
        slot.cursor = log.first;
        continue;
      }
      r.enqueue(log.get(slot.cursor)!);
      slot.cursor++;
    }
    slot.replay = slot.cursor < log.next;
  }

  deliver(receivers: Iterable<ReceiverPeer>, raw: Uint8Array, offset: number): void {
    const [batch, i] = this.fanout.share(EVERYONE, raw);
    for (const r of receivers) {
      if (r.pending || r.closed) continue;
      const slot = r.logSlot;
      if (slot.replay || slot.cursor !== offset) {
        r.skipShared(batch);
        // A replaying receiver reads this record from history at its own pace.
        if (!slot.replay) this.startReplay(r, slot.cursor);
        continue;
      }
      r.enqueueShared(batch, i);
      slot.cursor = offset + 1;
      if (r.queuedBytes > this.maxQueued) this.tooSlow(r, `log receiver fell ${r.queuedBytes} bytes behind; resume from offset ${slot.cursor}`);
    }
  }

  onDrain(r: ReceiverPeer): void {
    if (r.logSlot.replay) this.pump(r);
  }

  needsDrain(r: ReceiverPeer): boolean {
    return r.logSlot.replay;
  }
}

