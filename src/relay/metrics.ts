/**
 * Prometheus metrics (prom-client). The hot path only bumps plain counters (stats.ts); this module
 * reads them at scrape time, so metrics cost nothing between scrapes.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { channelMatcher } from './auth.js';
import type { Channel } from './channel.js';
import type { RelayConfig } from './config.js';
import type { RelayTotals } from './stats.js';

/**
 * Cardinality guard: the channels that get per-channel series. Only channels matching
 * `metricsChannelPatterns` (any, when empty), and at most `metricsChannels` of them — the oldest
 * first, so a channel keeps its series while it lives. The rest are counted in
 * `sluice_metrics_channels_omitted`.
 */
export function seriesChannels(all: Iterable<Channel>, config: Pick<RelayConfig, 'metricsChannels' | 'metricsChannelPatterns'>): { chosen: Channel[]; omitted: number } {
  const match = config.metricsChannelPatterns.length > 0 ? channelMatcher(config.metricsChannelPatterns) : () => true;
  const chosen: Channel[] = [];
  let omitted = 0;
  for (const c of all) {
    if (chosen.length < config.metricsChannels && match(c.name)) chosen.push(c);
    else omitted++;
  }
  return { chosen, omitted };
}

export function createMetrics(
  totals: RelayTotals,
  channels: () => Iterable<Channel>,
  peers: () => number,
  config: Pick<RelayConfig, 'metricsChannels' | 'metricsChannelPatterns' | 'receiverHighWaterBytes'>,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });

  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('sluice_frames_in_total', 'Frames received from peers', () => totals.framesIn);
  counter('sluice_bytes_in_total', 'Bytes received from peers', () => totals.bytesIn);
  counter('sluice_frames_out_total', 'Frames written to peers', () => totals.framesOut);
  counter('sluice_bytes_out_total', 'Bytes written to peers', () => totals.bytesOut);
  counter('sluice_connections_total', 'Connections accepted', () => totals.connectionsTotal);
  counter('sluice_connections_rejected_total', 'Connections refused', () => totals.connectionsRejected);
  counter('sluice_conflated_diffs_total', 'Diffs merged for receivers that fell behind', () => totals.conflatedDiffs);
  counter('sluice_skipped_frames_total', 'Pixel frames skipped for receivers that fell behind', () => totals.skippedFrames);
  counter('sluice_dropped_frames_total', 'Media frames dropped for receivers that fell behind', () => totals.droppedFrames);
  counter('sluice_internal_errors_total', 'Failures contained at a peer boundary (the peer was closed with 1011)', () => totals.internalErrors);
  counter('sluice_channels_collected_total', 'Idle channels garbage-collected', () => totals.channelsCollected);

  new Counter({
    name: 'sluice_closes_total',
    help: 'Connections refused or closed by the relay, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(totals.closesByReason)) this.inc({ reason }, n);
    },
  });

  new Gauge({
    name: 'sluice_connections',
    help: 'Open connections',
    registers: [registry],
    collect() {
      this.set(peers());
    },
  });
  new Gauge({
    name: 'sluice_channels',
    help: 'Channels held by this relay',
    registers: [registry],
    collect() {
      let n = 0;
      for (const _ of channels()) n++;
      this.set(n);
    },
  });
  // Per-channel series: the guarded selection is made once per scrape and shared by every metric.
  let selection: { at: number; chosen: Channel[]; omitted: number } | undefined;
  const chosen = () => {
    const now = Date.now();
    if (selection === undefined || now - selection.at > 250) selection = { at: now, ...seriesChannels(channels(), config) };
    return selection;
  };
  const perChannel = (kind: 'counter' | 'gauge', name: string, help: string, read: (c: Channel) => number) => {
    const collect = function (this: Counter | Gauge) {
      this.reset();
      for (const c of chosen().chosen) (this as Gauge).set({ channel: c.name }, read(c));
    };
    if (kind === 'gauge') new Gauge({ name, help, labelNames: ['channel'], registers: [registry], collect });
    else
      new Counter({
        name,
        help,
        labelNames: ['channel'],
        registers: [registry],
        collect() {
          this.reset();
          for (const c of chosen().chosen) this.inc({ channel: c.name }, read(c));
        },
      });
  };
  perChannel('gauge', 'sluice_channel_receivers', 'Receivers per channel (see --metrics-channels)', (c) => c.receivers.size);
  perChannel('counter', 'sluice_channel_frames_in_total', 'Frames received per channel', (c) => c.stats.framesIn);
  perChannel('counter', 'sluice_channel_bytes_in_total', 'Bytes received per channel', (c) => c.stats.bytesIn);
  perChannel('counter', 'sluice_channel_frames_out_total', 'Frames written per channel', (c) => c.stats.framesOut);
  perChannel('counter', 'sluice_channel_bytes_out_total', 'Bytes written per channel', (c) => c.stats.bytesOut);
  perChannel('gauge', 'sluice_channel_receivers_behind', 'Receivers behind per channel (queued past the high-water mark or waiting for a catch-up)', (c) => {
    let n = 0;
    for (const r of c.receivers.values()) if (!r.pending && c.receiverLag(r).behind) n++;
    return n;
  });
  perChannel('gauge', 'sluice_channel_queued_bytes_max', 'Largest outbound queue of a receiver per channel (bytes)', (c) => {
    let max = 0;
    for (const r of c.receivers.values()) max = Math.max(max, r.queuedBytes);
    return max;
  });
  new Gauge({
    name: 'sluice_metrics_channels_omitted',
    help: 'Channels without per-channel series (past --metrics-channels or not matching --metrics-channel-patterns)',
    registers: [registry],
    collect() {
      this.set(chosen().omitted);
    },
  });
  return registry;
}
