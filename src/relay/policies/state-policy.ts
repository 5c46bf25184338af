/**
 * State (signal) channels: receivers grouped by select filter, each (diff, filter) projected and
 * encoded once per tick; a receiver that falls behind is conflated — it gets nothing while behind
 * and ONE exact diff from the state it last got when it drains, never a disconnect.
 *
 * The one state semantics: at every quiet moment a receiver holds exactly
 * projectState(sourceState, its select). Live diffs, conflation, catch-up and filter changes all
 * compute what they send from that rule (projectChange for nested selects, whose diffs cannot be
 * projected without the states on both sides).
 */
import { Flag, FrameType } from '../../protocol/frame-codes.js';
import { encodeFrame, readHeader } from '../../protocol/header.js';
import { projectChange, projectDiff, projectState } from '../../protocol/select.js';
import { utf8Encode } from '../../protocol/utf8.js';
import type { JsonObject } from '../../protocol/utf8.js';
import type { Delivery } from '../engine.js';
import type { Fanout } from '../fanout.js';
import { NO_FILTER_KEY, makeFilter } from '../receiver-filter.js';
import type { ReceiverFilter } from '../receiver-filter.js';
import type { ReceiverPeer } from '../receiver-peer.js';
import type { StateCache, StateSnapshot } from '../state-cache.js';

/** What the state policy keeps per receiver. */
export class StateSlot {
  /** Set while behind: the state this receiver last got. */
  behind: StateSnapshot | undefined;
  /** Its filter changed while it was behind: it gets a full projected sync when it drains. */
  needSync = false;
  /** While it waits for a full sync: the state version it had when it fell behind (for the console's lag). */
  syncFrom: number | undefined;
}

interface FilterGroup {
  filter: ReceiverFilter | null;
  members: Set<ReceiverPeer>;
}

export function diffFrame(diff: JsonObject, seq = 0, timestamp = 0): Uint8Array {
  return encodeFrame({ type: FrameType.SignalDiff, seq, timestamp }, utf8Encode(JSON.stringify(diff)));
}

export function syncFrame(state: JsonObject): Uint8Array {
  return encodeFrame({ type: FrameType.SignalSync, flags: Flag.Keyframe }, utf8Encode(JSON.stringify(state)));
}

/** What a receiver with `filter` holds of `state`. */
function project(state: JsonObject, filter: ReceiverFilter | null): JsonObject {
  return filter ? projectState(state, filter.tree) : state;
}

/** The diff taking a receiver with `filter` from `before` to `after` (both source states). */
function projectedChange(diff: JsonObject, before: JsonObject, after: JsonObject, filter: ReceiverFilter | null): JsonObject {
  if (filter === null) return diff;
  // Top-level selects project diffs exactly; nested ones need both states (a deleted last leaf
  // must also remove its now-empty parent).
  return filter.nested ? projectChange(before, after, filter.tree) : projectDiff(diff, filter.tree);
}

export class StatePolicy {
  private readonly groups = new Map<string, FilterGroup>();
  /** Groups whose filter has dotted paths (their diffs are projected from both states). */
  private nestedGroups = 0;
  /** Receivers holding a snapshot of an older state (behind, waiting for one merged diff). */
  private readonly holders = new Set<ReceiverPeer>();
  /** Encoded catch-up syncs per filter, valid for one state version (1,000 joiners → 1 encode). */
  private readonly syncCache = new Map<string, { version: number; bytes: Uint8Array }>();

  constructor(
    private readonly cache: () => StateCache,
    private readonly fanout: Fanout,
    private readonly highWater: number,
    /** Counts diffs that behind receivers did not get one by one. */
    private readonly countConflated: (n: number) => void,
  ) {}

  private isBehind(r: ReceiverPeer): boolean {
    return r.stateSlot.behind !== undefined || r.stateSlot.needSync;
  }

  /** Adds a live receiver to its filter's group and sends it the current state. */
  join(r: ReceiverPeer): void {
    this.enterGroup(r);
    if (this.cache().hasState) r.enqueue(this.catchUpSync(r.filter));
    // Diffs later in this tick come after the catch-up sync.
    this.fanout.follow(r, r.filterKey);
  }

  leave(r: ReceiverPeer): void {
    this.release(r);
    const key = r.filterKey;
    const g = this.groups.get(key);
    if (!g) return;
    g.members.delete(r);
    if (g.members.size === 0) {
      this.groups.delete(key);
      if (g.filter?.nested) this.nestedGroups--;
      this.syncCache.delete(key);
      this.fanout.forget(key);
    }
  }

  private enterGroup(r: ReceiverPeer): void {
    const key = r.filterKey;
    let g = this.groups.get(key);
    if (!g) {
      g = { filter: r.filter, members: new Set() };
      this.groups.set(key, g);
      if (g.filter?.nested) this.nestedGroups++;
    }
    g.members.add(r);
  }

  /** A new select: a fresh projected sync covers everything, sent now or — while behind — at drain. */
  setFilter(r: ReceiverPeer, select: string[] | null): void {
    this.fanout.leave(r, r.filterKey);
    this.leave(r);
    r.filter = makeFilter(select);
    this.enterGroup(r);
    const slot = r.stateSlot;
    this.release(r);
    slot.needSync = false;
    slot.syncFrom = undefined;
    if (this.cache().hasState) {
      // A receiver that is not reading gets at most one pending sync, however often it changes filter.
      if (r.queuedBytes > this.highWater) {
        slot.needSync = true;
        return;
      }
      r.enqueue(this.catchUpSync(r.filter));
    }
    this.fanout.follow(r, r.filterKey);
  }

  private catchUpSync(filter: ReceiverFilter | null): Uint8Array {
    const key = filter?.key ?? NO_FILTER_KEY;
    const cache = this.cache();
    const cached = this.syncCache.get(key);
    if (cached && cached.version === cache.version) return cached.bytes;
    const bytes = syncFrame(project(cache.state, filter));
    this.syncCache.set(key, { version: cache.version, bytes });
    return bytes;
  }

  /** A state change (the cache already holds the new state). */
  deliver(d: Extract<Delivery, { kind: 'diff' }>): void {
    const after = this.cache().state;
    // The channel's first state: everyone gets a sync (even of `{}`), so receivers that joined
    // before the source become ready whatever their select.
    const first = d.first === true;
    // Re-encoded diffs keep the source's seq and timestamp; read them only when one is encoded.
    let header: { seq: number; timestamp: number } | undefined;
    const encode = (diff: JsonObject) => {
      header ??= d.raw ? readHeader(d.raw) : { seq: 0, timestamp: 0 };
      return diffFrame(diff, header.seq, header.timestamp);
    };
    for (const [key, g] of this.groups) {
      let bytes: Uint8Array;
      if (first) bytes = this.catchUpSync(g.filter);
      else if (g.filter === null) bytes = d.raw ?? encode(d.diff);
      else if (g.filter.nested && d.before === undefined) {
        // Cannot happen (needsBefore() holds while a nested group exists); if it did, a sync at
        // the next drain is still exact.
        for (const r of g.members) r.stateSlot.needSync = true;
        continue;
      } else {
        const projected = projectedChange(d.diff, d.before?.state ?? {}, after, g.filter);
        if (isEmpty(projected)) continue; // touches nothing this group selected
        bytes = encode(projected);
      }
      const [batch, i, fresh] = this.fanout.share(key, bytes);
      if (fresh) {
        // Once per tick and group: who is live follows the batch (later frames of the tick
        // cost O(1) whatever the number of receivers); who is behind sits the tick out.
        for (const r of g.members) {
          if (!this.isBehind(r) && r.queuedBytes <= this.highWater) {
            r.enqueueShared(batch, i);
            continue;
          }
          // Behind: remember what it last got; it receives ONE merged diff once it drains (or one
          // sync, when no snapshot of the state before this change was kept).
          r.skipShared(batch);
          const slot = r.stateSlot;
          if (slot.behind === undefined && !slot.needSync) {
            if (d.before === undefined || first) {
              slot.needSync = true;
              slot.syncFrom = this.cache().version - 1;
            }
            else {
              slot.behind = d.before;
              this.holders.add(r);
            }
          }
          batch.behind++;
        }
      }
      this.countConflated(batch.behind);
    }
  }

  /** The receiver's queue went down: send what it missed while behind. */
  onDrain(r: ReceiverPeer): void {
    const slot = r.stateSlot;
    if (slot.needSync) {
      slot.needSync = false;
      slot.syncFrom = undefined;
      this.release(r);
      r.enqueue(this.catchUpSync(r.filter));
      this.fanout.follow(r, r.filterKey);
      return;
    }
    const since = slot.behind;
    if (since === undefined) return;
    this.release(r);
    const cache = this.cache();
    if (!cache.hasState || since.version === cache.version) {
      this.fanout.follow(r, r.filterKey);
      return;
    }
    const f = r.filter;
    const diff = f?.nested ? projectChange(since.state, cache.state, f.tree) : f ? projectDiff(cache.diffSince(since), f.tree) : cache.diffSince(since);
    // It had no state before (joined before the first sync): a sync, so it becomes ready.
    if (since.version === 0 && !since.hadState) r.enqueue(this.catchUpSync(f));
    else if (!isEmpty(diff)) r.enqueue(diffFrame(diff));
    // The merged diff covers the state up to now; the rest of this tick follows it.
    this.fanout.follow(r, r.filterKey);
  }

  needsDrain(r: ReceiverPeer): boolean {
    return this.isBehind(r);
  }

  /** The receiver no longer holds an old state. */
  private release(r: ReceiverPeer): void {
    r.stateSlot.behind = undefined;
    this.holders.delete(r);
  }

  /** See ChannelSink.needsBefore. */
  needsBefore(): boolean {
    return this.nestedGroups > 0 || this.holders.size > 0;
  }

}



function isEmpty(o: JsonObject): boolean {
  for (const _ in o) return false;
  return true;
}
