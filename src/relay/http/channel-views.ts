/**
 * What the operations console and `/api/channels` show of a channel: a row (one line of the
 * channels table) and a detail (receivers, bounded state with field versions and ages, schema,
 * log tail, picture). Everything here reads the channel; nothing on the fan-out path calls it.
 */
import { FrameType } from '../../protocol/frame-codes.js';
import { readHeader } from '../../protocol/header.js';
import { decodeMessage } from '../../protocol/message.js';
import type { JsonValue } from '../../protocol/utf8.js';
import type { Channel } from '../channel.js';
import { ContentKind, contentKindNames } from '../stats.js';
import type { ChannelSampler } from './rates.js';

/** One line of the channels table. Rates are per second over the last sample (about one second). */
export interface ChannelRow {
  name: string;
  /** What it carried so far: state, pixels, audio, media, log (several are possible). */
  kinds: string[];
  online: boolean;
  /** When the source came online or went offline (ms since epoch). */
  since: number;
  receivers: number;
  receiversPeak: number;
  /** Receivers on every node (shared engines), as of the last cluster heartbeat. */
  clusterReceivers?: number;
  /** Receivers behind right now (queued past the high-water mark, or waiting for a catch-up). */
  behind: number;
  framesInPerSec: number;
  bytesInPerSec: number;
  framesOutPerSec: number;
  bytesOutPerSec: number;
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  conflatedDiffs: number;
  skippedFrames: number;
  droppedFrames: number;
  tooSlowCloses: number;
  stateVersion: number;
  fields: number;
  /** JSON bytes of the merged state as last measured (see ChannelSampler), undefined before. */
  stateBytes: number | undefined;
  logNext: number;
  logRetained: number;
}

export function channelRow(c: Channel, sampler: ChannelSampler): ChannelRow {
  const s = c.stats;
  const ec = c.engineChannel;
  const rates = sampler.rates(c);
  let behind = 0;
  for (const r of c.receivers.values()) if (!r.pending && c.receiverLag(r).behind) behind++;
  const row: ChannelRow = {
    name: c.name,
    // Every SDK source opens with a sync, often of `{}`: a state that never had a field is no kind.
    kinds: contentKindNames(c.cache.fieldVersions.size > 0 ? s.contentKinds : s.contentKinds & ~ContentKind.State),
    online: ec.sourceOnline,
    since: ec.sourceSince || c.sourceLeftAt,
    receivers: c.receivers.size,
    receiversPeak: s.receiversPeak,
    behind,
    framesInPerSec: rates.framesIn,
    bytesInPerSec: rates.bytesIn,
    framesOutPerSec: rates.framesOut,
    bytesOutPerSec: rates.bytesOut,
    framesIn: s.framesIn,
    bytesIn: s.bytesIn,
    framesOut: s.framesOut,
    bytesOut: s.bytesOut,
    conflatedDiffs: s.conflatedDiffs,
    skippedFrames: s.skippedFrames,
    droppedFrames: s.droppedFrames,
    tooSlowCloses: s.tooSlowCloses,
    stateVersion: c.cache.version,
    fields: c.cache.fieldVersions.size,
    stateBytes: sampler.stateBytes(c),
    logNext: c.cache.log.next,
    logRetained: c.cache.log.size,
  };
  if (ec.clusterReceivers !== undefined) row.clusterReceivers = ec.clusterReceivers;
  return row;
}

/** Bounds of a channel detail (it is reachable from the network). */
export interface DetailLimits {
  /** JSON bytes of state included; past it fields are left out and `stateTruncated` is set. */
  stateBytes: number;
  /** Top-level fields listed. */
  fields: number;
  /** Receivers listed (behind ones first). */
  receivers: number;
  /** Log records in the tail, and characters per record. */
  logTail: number;
  logChars: number;
}

export const DEFAULT_DETAIL_LIMITS: DetailLimits = { stateBytes: 64 * 1024, fields: 500, receivers: 200, logTail: 100, logChars: 2000 };

export interface ReceiverRow {
  id: number;
  /** The receiver's select paths, or null for the whole state. */
  select: string[] | null;
  remote: string;
  queuedBytes: number;
  /** Waiting for its handshake (not live yet). */
  pending: boolean;
  behind: boolean;
  /** State versions it is behind (conflated into one diff when it drains). */
  lagVersions: number | undefined;
  /** Log records it has not got yet. */
  lagOffsets: number | undefined;
  /** Behind with no snapshot of what it last got: one full (projected) sync when it drains. */
  syncPending: boolean;
  /** `paused`: it asked for no media (Hello `media: false`, e.g. it gets the pictures over WebRTC). */
  media: 'live' | 'paused';
  connectedAt: number;
}

export interface FieldInfo {
  name: string;
  /** State version of the field's last change. */
  version: number;
  /** When that change happened on this node (ms since epoch), when still remembered. */
  changedAt: number | undefined;
}

export interface LogLine {
  offset: number;
  time: number;
  stream: string;
  text: string;
}

export interface ChannelDetail extends ChannelRow {
  signalPeers: number;
  receiverList: ReceiverRow[];
  receiversTruncated: boolean;
  /** The merged state, or the fields of it that fit the bound (see stateTruncated). */
  state: Record<string, JsonValue> | null;
  stateTruncated: boolean;
  fieldList: FieldInfo[];
  schema: JsonValue | null;
  log: { first: number; next: number; retained: number; retainedBytes: number; tail: LogLine[] } | null;
  picture: { width: number; height: number; version: number; compressed: boolean } | null;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export function channelDetail(c: Channel, sampler: ChannelSampler, limits: DetailLimits = DEFAULT_DETAIL_LIMITS): ChannelDetail {
  const row = channelRow(c, sampler);
  const cache = c.cache;

  const all = [...c.receivers.values()];
  const lags = new Map(all.map((r) => [r, c.receiverLag(r)] as const));
  // Behind first (they are why an operator opens this view), then by id.
  all.sort((a, b) => Number(lags.get(b)!.behind) - Number(lags.get(a)!.behind) || a.id - b.id);
  const receiverList = all.slice(0, limits.receivers).map((r): ReceiverRow => {
    const lag = lags.get(r)!;
    return {
      id: r.id,
      select: r.filter?.paths ?? null,
      remote: r.conn.remoteAddress,
      queuedBytes: r.queuedBytes,
      pending: r.pending,
      behind: !r.pending && lag.behind,
      lagVersions: lag.versions,
      lagOffsets: lag.offsets,
      syncPending: lag.syncPending,
      media: r.mediaPaused ? 'paused' : 'live',
      connectedAt: r.connectedAt,
    };
  });

  let state: Record<string, JsonValue> | null = null;
  let stateTruncated = false;
  const fieldList: FieldInfo[] = [];
  if (cache.hasState) {
    state = {};
    let budget = limits.stateBytes;
    for (const key of Object.keys(cache.state)) {
      if (fieldList.length >= limits.fields) {
        stateTruncated = true;
        break;
      }
      const value = cache.state[key]!;
      const size = jsonSize(value, budget);
      if (size > budget) {
        stateTruncated = true;
        break;
      }
      budget -= size + key.length + 4;
      Object.defineProperty(state, key, { value, enumerable: true, writable: true, configurable: true });
      const version = cache.fieldVersions.get(key) ?? 0;
      fieldList.push({ name: key, version, changedAt: c.versionTime(version) });
    }
  }

  let schema: JsonValue | null = null;
  if (cache.schemaFrame) {
    try {
      const m = decodeMessage(cache.schemaFrame, { maxPayload: cache.schemaFrame.length });
      if (m.kind === 'schema-announce') schema = m.schema as unknown as JsonValue;
    } catch {
      schema = null;
    }
  }

  let log: ChannelDetail['log'] = null;
  const history = cache.log;
  if (history.next > 0) {
    const tail: LogLine[] = [];
    for (let o = Math.max(history.first, history.next - limits.logTail); o < history.next; o++) {
      const frame = history.get(o);
      if (frame === undefined) continue;
      try {
        const m = decodeMessage(frame, { maxPayload: frame.length });
        if (m.kind !== 'log-record') continue;
        const text = decoder.decode(m.data.subarray(0, limits.logChars * 4));
        tail.push({ offset: o, time: m.time, stream: m.stream, text: text.length > limits.logChars ? text.slice(0, limits.logChars) + '…' : text });
      } catch {
        continue;
      }
    }
    log = { first: history.first, next: history.next, retained: history.size, retainedBytes: history.retainedBytes, tail };
  }

  let picture: ChannelDetail['picture'] = null;
  const pf = cache.hasPicture ? cache.pictureFrame() : undefined;
  if (pf) {
    const h = readHeader(pf);
    picture = { width: h.width, height: h.height, version: c.pictureVersion, compressed: h.type === FrameType.CompressedPixels };
  }

  return { ...row, signalPeers: c.signalPeers.size, receiverList, receiversTruncated: all.length > receiverList.length, state, stateTruncated, fieldList, schema, log, picture };
}

/** JSON bytes of `value`, or anything above `cap` once it is known to pass it. */
function jsonSize(value: JsonValue, cap: number): number {
  if (value === null || typeof value !== 'object') return JSON.stringify(value).length;
  // Cheap lower bound first: a huge array or object is refused without serializing it.
  const n = Array.isArray(value) ? value.length : Object.keys(value).length;
  if (n * 2 > cap) return cap + 1;
  return Buffer.byteLength(JSON.stringify(value));
}
