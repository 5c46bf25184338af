/** Plain counters on the hot path; /api/stats and /metrics read them. */

export class ChannelStats {
  framesIn = 0;
  bytesIn = 0;
  framesOut = 0;
  bytesOut = 0;
  receiversPeak = 0;
  connectionsTotal = 0;
  connectionsRejected = 0;
  inputsForwarded = 0;
  /** Diffs a behind receiver did not get individually (merged into one on drain). */
  conflatedDiffs = 0;
  /** Pixel frames skipped for behind receivers (they get a keyframe instead). */
  skippedFrames = 0;
  /** Media frames (audio, haptic, neural) dropped for behind receivers. */
  droppedFrames = 0;
  /** Log receivers closed with 4413. */
  tooSlowCloses = 0;
  /** What the channel carried so far, as ContentKind bits (state, pixels, audio, media, log). */
  contentKinds = 0;
}

/** Bits of ChannelStats.contentKinds. */
export const ContentKind = { State: 1, Pixels: 2, Audio: 4, Media: 8, Log: 16 } as const;

/** The names of the kinds set in `bits`, e.g. `['state', 'log']`. */
export function contentKindNames(bits: number): string[] {
  const out: string[] = [];
  if (bits & ContentKind.State) out.push('state');
  if (bits & ContentKind.Pixels) out.push('pixels');
  if (bits & ContentKind.Audio) out.push('audio');
  if (bits & ContentKind.Media) out.push('media');
  if (bits & ContentKind.Log) out.push('log');
  return out;
}

export class RelayTotals {
  connectionsTotal = 0;
  connectionsRejected = 0;
  /** Rejections and protocol closes by reason name (BadFrame, NoCapacity, …). */
  readonly closesByReason: Record<string, number> = {};
  framesIn = 0;
  bytesIn = 0;
  framesOut = 0;
  bytesOut = 0;
  conflatedDiffs = 0;
  skippedFrames = 0;
  droppedFrames = 0;
  channelsCreated = 0;
  channelsCollected = 0;
  /** Failures contained at a peer boundary (that peer was closed with 1011); should stay 0. */
  internalErrors = 0;

  countClose(name: string): void {
    this.closesByReason[name] = (this.closesByReason[name] ?? 0) + 1;
  }
}
