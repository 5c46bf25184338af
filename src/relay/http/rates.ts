/**
 * Per-second rates and state sizes for every channel, sampled together once a second. The hot
 * path only bumps integer counters (ChannelStats); the sampler diffs them here, so a rate costs
 * nothing per frame and nothing per console client.
 */
import type { Channel } from '../channel.js';

export interface Rates {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
}

interface Sample {
  at: number;
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  rates: Rates;
  /** Merged state size as last measured, and the version it was measured at. */
  stateBytes: number | undefined;
  sizedVersion: number;
}

const ZERO: Rates = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 };

/** Milliseconds of state measuring (JSON.stringify) one sample may spend across all channels. */
export const SIZE_BUDGET_MS = 20;

export class ChannelSampler {
  private readonly samples = new WeakMap<Channel, Sample>();
  /** Where the last sample stopped measuring state sizes, so every channel gets its turn. */
  private sizeCursor = 0;

  /** Takes a sample of every channel: rates since the previous one, and state sizes within a time budget. */
  sample(channels: Iterable<Channel>, now = Date.now()): void {
    const deadline = performance.now() + SIZE_BUDGET_MS;
    let index = 0;
    let measuring = true;
    const start = this.sizeCursor;
    let measuredUpTo = -1;
    for (const c of channels) {
      const s = c.stats;
      let prev = this.samples.get(c);
      if (prev === undefined) {
        prev = { at: now, framesIn: s.framesIn, bytesIn: s.bytesIn, framesOut: s.framesOut, bytesOut: s.bytesOut, rates: ZERO, stateBytes: undefined, sizedVersion: -1 };
        this.samples.set(c, prev);
      } else {
        const dt = (now - prev.at) / 1000;
        if (dt > 0) {
          prev.rates = {
            framesIn: Math.round((s.framesIn - prev.framesIn) / dt),
            bytesIn: Math.round((s.bytesIn - prev.bytesIn) / dt),
            framesOut: Math.round((s.framesOut - prev.framesOut) / dt),
            bytesOut: Math.round((s.bytesOut - prev.bytesOut) / dt),
          };
          prev.at = now;
          prev.framesIn = s.framesIn;
          prev.bytesIn = s.bytesIn;
          prev.framesOut = s.framesOut;
          prev.bytesOut = s.bytesOut;
        }
      }
      // State sizes: measured only when the version changed, starting where the last sample ran
      // out of budget (a relay of big, busy states sees sizes refreshed less often, never stalls).
      if (measuring && index >= start) {
        const cache = c.cache;
        if (cache.hasState && prev.sizedVersion !== cache.version) {
          prev.stateBytes = Buffer.byteLength(JSON.stringify(cache.state));
          prev.sizedVersion = cache.version;
        } else if (!cache.hasState) prev.stateBytes = undefined;
        measuredUpTo = index;
        if (performance.now() > deadline) measuring = false;
      }
      index++;
    }
    this.sizeCursor = measuring ? 0 : measuredUpTo + 1;
  }

  rates(c: Channel): Rates {
    return this.samples.get(c)?.rates ?? ZERO;
  }

  stateBytes(c: Channel): number | undefined {
    return this.samples.get(c)?.stateBytes;
  }
}
