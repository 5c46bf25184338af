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
