/**
 * Prometheus metrics (prom-client). The hot path only bumps plain counters (stats.ts); this module
 * reads them at scrape time, so metrics cost nothing between scrapes.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Channel } from './channel.js';
import type { RelayTotals } from './stats.js';

/** Per-channel series are exported for at most this many channels. */
export const MAX_CHANNEL_SERIES = 200;

export function createMetrics(totals: RelayTotals, channels: () => Iterable<Channel>, peers: () => number): Registry {
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
  new Gauge({
    name: 'sluice_channel_receivers',
    help: 'Receivers per channel',
    labelNames: ['channel'],
    registers: [registry],
    collect() {
      this.reset();
      // Cardinality guard: one series per channel for the first channels only.
      let n = 0;
      for (const c of channels()) {
        if (n++ >= MAX_CHANNEL_SERIES) break;
        this.set({ channel: c.name }, c.receivers.size);
      }
    },
  });
  return registry;
}
