/**
 * The channels of this relay node and the one place their admission limits live: how many
 * channels, how many receivers per channel, one source per channel (or takeover). Every way in —
 * a WebSocket peer, a `/ws` subscription — asks here. Also collects idle channels.
 */
import { CloseCode } from '../protocol/close-codes.js';
import type { Role } from '../protocol/control.js';
import { channelMatcher } from './auth.js';
import { Channel } from './channel.js';
import type { ChannelContext } from './channel.js';

export type Admission = { ok: true; channel: Channel; created: boolean } | { ok: false; code: number; reason: string };

export class ChannelTable {
  readonly channels = new Map<string, Channel>();
  private takeoverMatcher: ((channel: string) => boolean) | undefined;

  constructor(private readonly ctx: ChannelContext) {}

  get size(): number {
    return this.channels.size;
  }

  get(name: string): Channel | undefined {
    return this.channels.get(name);
  }

  values(): IterableIterator<Channel> {
    return this.channels.values();
  }

  /** The channel's source policy: takeover when the relay's policy says so or the channel matches --takeover-channels. */
  takesOver(channel: string): boolean {
    if (this.ctx.config.sourcePolicy === 'takeover') return true;
    this.takeoverMatcher ??= channelMatcher(this.ctx.config.takeoverChannels);
    return this.takeoverMatcher(channel);
  }

  /** Whether a peer of `role` may join `name` now (nothing is created). */
  check(name: string, role: Role, producer?: string): { ok: true } | { ok: false; code: number; reason: string } {
    const cfg = this.ctx.config;
    const channel = this.channels.get(name);
    if (!channel && this.channels.size >= cfg.maxChannels && !this.canEvict()) return { ok: false, code: CloseCode.NoCapacity, reason: `channel limit (${cfg.maxChannels}) reached` };
    if (role === 'receiver' && channel && channel.receivers.size >= cfg.maxReceiversPerChannel) {
      channel.stats.connectionsRejected++;
      return { ok: false, code: CloseCode.NoCapacity, reason: `receiver limit (${cfg.maxReceiversPerChannel}) reached for "${name}"` };
    }
    // Signaling peers are receivers' and sources' negotiating halves: the same cap, counted apart.
    if (role === 'signal' && channel && channel.signalPeers.size >= cfg.maxReceiversPerChannel) {
      channel.stats.connectionsRejected++;
      return { ok: false, code: CloseCode.NoCapacity, reason: `signaling peer limit (${cfg.maxReceiversPerChannel}) reached for "${name}"` };
    }
    // The same producer reconnecting (its old connection may be half-open and not yet timed out)
    // replaces its own stale connection.
    const sameProducer = producer !== undefined && channel?.source?.producer === producer;
    if (role === 'source' && channel?.source && !sameProducer && !this.takesOver(name)) {
      channel.stats.connectionsRejected++;
      return { ok: false, code: CloseCode.SourceConflict, reason: `channel "${name}" already has a source` };
    }
    return { ok: true };
  }

  /** Checks the limits again (time passed since the upgrade was decided) and finds or creates the channel. */
  admit(name: string, role: Role, producer?: string): Admission {
    const verdict = this.check(name, role, producer);
    if (!verdict.ok) return verdict;
    let channel = this.channels.get(name);
    if (channel) return { ok: true, channel, created: false };
    if (this.channels.size >= this.ctx.config.maxChannels) this.evictOne();
    channel = new Channel(name, this.ctx);
    this.channels.set(name, channel);
    this.ctx.totals.channelsCreated++;
    return { ok: true, channel, created: true };
  }

  /** Removes channels with nobody connected whose grace period (or log retention) has run out. */
  collect(now = Date.now()): number {
    let n = 0;
    for (const [name, c] of this.channels) {
      if (c.collectable(now)) {
        c.release();
        this.channels.delete(name);
        n++;
      }
    }
    this.ctx.totals.channelsCollected += n;
    return n;
  }

  private canEvict(): boolean {
    const now = Date.now();
    for (const c of this.channels.values()) if (c.evictable(now)) return true;
    return false;
  }

  /** At the channel limit: the ended channel kept longest (for its log history) makes room. */
  private evictOne(): void {
    const now = Date.now();
    let oldest: Channel | undefined;
    for (const c of this.channels.values()) if (c.evictable(now) && (oldest === undefined || c.sourceLeftAt < oldest.sourceLeftAt)) oldest = c;
    if (oldest === undefined) return;
    oldest.release();
    this.channels.delete(oldest.name);
    this.ctx.totals.channelsCollected++;
  }
}
