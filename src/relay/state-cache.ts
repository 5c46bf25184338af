/**
 * What a channel remembers so a late joiner needs no history: the merged state (last sync with
 * every diff applied), a version per top-level field, the schema, the current picture, and the
 * retained log. The merged state is updated immutably (structural sharing), so a reference to an
 * old state is a cheap snapshot — that is how a receiver that fell behind gets ONE exact diff.
 */
import { applyDeltaInPlace } from '../protocol/delta-codec.js';
import { FrameType, Flag } from '../protocol/frame-codes.js';
import { HEADER_SIZE, encodeFrame } from '../protocol/header.js';
import { applyPatch, diffStates, jsonEqual } from '../protocol/merge-patch.js';
import { hasOwn, setOwn } from '../protocol/own.js';
import { isJsonObject } from '../protocol/utf8.js';
import type { JsonObject } from '../protocol/utf8.js';
import { LogHistory } from './log-history.js';

export interface StateSnapshot {
  state: JsonObject;
  version: number;
  /** Whether the channel had any state then (a sync of `{}` counts). */
  hadState: boolean;
}

/** Deleted-field tombstones kept before they are compacted away (see diffSince). */
const MIN_TOMBSTONES = 1024;

export class StateCache {
  /** The merged state; replaced (never mutated) on every change. */
  state: JsonObject = {};
  /** Increments on every state change. */
  version = 0;
  /** Top-level field → version of its last change (deletions included, until compacted). */
  readonly fieldVersions = new Map<string, number>();
  /** Deletions recorded since the last compaction (an upper bound on tombstones). */
  private deletions = 0;
  /** Snapshots older than this predate a compaction: diffSince compares whole states for them. */
  private compactedAt = 0;
  /** True once any sync or diff arrived. */
  hasState = false;
  /** The last SchemaAnnounce frame, as received. */
  schemaFrame: Uint8Array | undefined;

  private picture: { width: number; height: number; rgba: Uint8Array } | undefined;
  private pictureFrameBytes: Uint8Array | undefined;
  /** Header timestamp of the source frame the raw picture last changed with (the catch-up keyframe carries it). */
  private pictureTimestamp = 0;
  private compressedPicture: Uint8Array | undefined;

  readonly log: LogHistory;

  constructor(logRetainRecords: number, logRetainBytes: number) {
    this.log = new LogHistory(logRetainRecords, logRetainBytes);
  }

  snapshot(): StateSnapshot {
    return { state: this.state, version: this.version, hadState: this.hasState };
  }

  /**
   * Whether a sync or diff of `payloadBytes` may be applied under `limit` bytes of merged state.
   * A merge patch grows the state by at most its own size, so an upper bound is kept by adding
   * payload sizes; the state is measured exactly (O(state)) only when that bound passes the
   * limit, and at most once per limit/8 bytes of updates — so near the limit an update may be
   * refused although it would have fit, but the state never passes the limit.
   */
  admitsUpdate(payloadBytes: number, isSync: boolean, limit: number): boolean {
    if (isSync) {
      if (payloadBytes > limit) return false;
      this.sizeBound = payloadBytes;
      this.sinceMeasure = 0;
      return true;
    }
    this.sinceMeasure += payloadBytes;
    if (this.sizeBound + payloadBytes <= limit) {
      this.sizeBound += payloadBytes;
      return true;
    }
    if (this.measured && this.sinceMeasure < limit / 8) return false;
    this.sizeBound = Buffer.byteLength(JSON.stringify(this.state));
    this.sinceMeasure = 0;
    this.measured = true;
    if (this.sizeBound + payloadBytes > limit) return false;
    this.sizeBound += payloadBytes;
    return true;
  }
  /** Upper bound on the merged state's JSON size, in bytes. */
  private sizeBound = 2;
  private sinceMeasure = 0;
  private measured = false;

  /**
   * Applies a merge-patch diff. Returns false when it changed nothing.
   *
   * With `keepBefore`, the top-level object is replaced (structural sharing), so the previous
   * state object stays a valid snapshot. Without it the top level is updated in place — cost
   * proportional to the diff, not to the number of fields in the state — while nested values
   * are still replaced, never mutated. Callers pass `keepBefore` whenever a snapshot of the
   * current state is held (a receiver behind, nested filters).
   */
  applyDiff(diff: JsonObject, keepBefore = true): boolean {
    this.hasState = true;
    if (keepBefore) {
      const next = applyPatch(this.state, diff);
      if (next === this.state) return false;
      this.state = isJsonObject(next) ? next : {};
      this.touch(Object.keys(diff));
      return true;
    }
    const state = this.state;
    const changed: string[] = [];
    for (const key of Object.keys(diff)) {
      const pv = diff[key]!;
      const has = hasOwn(state, key);
      if (pv === null) {
        if (has) {
          delete state[key];
          changed.push(key);
        }
        continue;
      }
      const cur = has ? state[key] : undefined;
      const next = applyPatch(cur, pv);
      if (!has || next !== cur) {
        setOwn(state, key, next);
        changed.push(key);
      }
    }
    if (changed.length === 0) return false;
    this.touch(changed);
    return true;
  }

  /** Replaces the state with a full sync (nulls already dropped); returns the minimal diff from the old state. */
  applySync(state: JsonObject): JsonObject {
    const diff = diffStates(this.state, state);
    this.hasState = true;
    const keys = Object.keys(diff);
    if (keys.length > 0) {
      this.state = state;
      this.touch(keys);
    }
    return diff;
  }

  /** Bumps the version and records it for `keys`, keeping deleted-field tombstones bounded. */
  private touch(keys: string[]): void {
    const version = ++this.version;
    for (const key of keys) {
      this.fieldVersions.set(key, version);
      if (!Object.prototype.hasOwnProperty.call(this.state, key)) this.deletions++;
    }
    if (this.deletions > Math.max(MIN_TOMBSTONES, this.fieldVersions.size / 2)) this.compact();
  }

  /** Forgets deletions; snapshots older than now are then diffed by comparing whole states. */
  private compact(): void {
    for (const key of this.fieldVersions.keys()) if (!Object.prototype.hasOwnProperty.call(this.state, key)) this.fieldVersions.delete(key);
    this.deletions = 0;
    this.compactedAt = this.version;
  }

  /** ONE exact diff from a snapshot to the current state, using field versions to skip unchanged fields. */
  diffSince(snap: StateSnapshot): JsonObject {
    let out: JsonObject = {};
    if (snap.version === this.version) return out;
    if (snap.version < this.compactedAt) return diffStates(snap.state, this.state);
    out = Object.create(null) as JsonObject;
    for (const [key, v] of this.fieldVersions) {
      if (v <= snap.version) continue;
      const has = Object.prototype.hasOwnProperty.call(this.state, key);
      const had = Object.prototype.hasOwnProperty.call(snap.state, key);
      if (!has) {
        if (had) out[key] = null;
        continue;
      }
      const cur = this.state[key]!;
      if (!had) {
        out[key] = cur;
        continue;
      }
      const old = snap.state[key]!;
      if (old === cur) continue;
      if (isJsonObject(old) && isJsonObject(cur)) {
        const sub = diffStates(old, cur);
        if (Object.keys(sub).length > 0) out[key] = sub;
      } else if (!jsonEqual(old, cur)) out[key] = cur;
    }
    // A null-prototype object takes "__proto__" as a plain key; hand back an ordinary object.
    return { ...out };
  }

  /**
   * A raw RGBA frame (Pixels or Keyframe) becomes the current picture. Always a copy (`new
   * Uint8Array`, not `.slice()`, which is a view on a Node Buffer): deltas are applied to it in
   * place, and the frame it came from may still be queued for receivers.
   */
  setPicture(width: number, height: number, rgba: Uint8Array, timestamp = 0): void {
    this.picture = { width, height, rgba: new Uint8Array(rgba) };
    this.pictureTimestamp = timestamp;
    this.pictureFrameBytes = undefined;
    this.compressedPicture = undefined;
  }

  /** An encoded image (CompressedPixels frame) becomes the current picture. */
  setCompressedPicture(frame: Uint8Array): void {
    this.compressedPicture = new Uint8Array(frame);
    this.picture = undefined;
    this.pictureFrameBytes = undefined;
  }

  /**
   * Applies a DeltaPixels payload to the current picture. Returns false (and changes nothing)
   * when there is no raw picture of that size to apply it to. Throws ProtocolError on a bad delta.
   */
  applyPictureDelta(width: number, height: number, delta: Uint8Array, timestamp = 0): boolean {
    const p = this.picture;
    if (p === undefined || p.width !== width || p.height !== height) return false;
    applyDeltaInPlace(p.rgba, delta);
    this.pictureTimestamp = timestamp;
    this.pictureFrameBytes = undefined;
    return true;
  }

  /** An empty Keyframe: there is no current picture any more. */
  clearPicture(): void {
    this.picture = undefined;
    this.pictureFrameBytes = undefined;
    this.compressedPicture = undefined;
  }

  /** A frame that shows the current picture on its own (Keyframe or the last CompressedPixels). */
  pictureFrame(): Uint8Array | undefined {
    if (this.compressedPicture) return this.compressedPicture;
    const p = this.picture;
    if (p === undefined) return undefined;
    this.pictureFrameBytes ??= encodeFrame({ type: FrameType.Keyframe, flags: Flag.Keyframe, timestamp: this.pictureTimestamp, width: p.width, height: p.height }, p.rgba);
    return this.pictureFrameBytes;
  }

  /** Bytes of the frame that shows the current picture (0 when there is none); computed, not encoded. */
  get pictureBytes(): number {
    if (this.compressedPicture) return this.compressedPicture.length;
    return this.picture ? HEADER_SIZE + this.picture.rgba.length : 0;
  }

  get hasPicture(): boolean {
    return this.picture !== undefined || this.compressedPicture !== undefined;
  }
}
