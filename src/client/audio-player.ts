/**
 * Plays a channel's audio (AudioPcm, and AudioCompressed/Opus through WebCodecs' AudioDecoder where
 * the browser has it) with Web Audio. A small jitter buffer absorbs network timing: each chunk is
 * scheduled right after the previous one, starting `jitterMs` ahead of "now"; a chunk that would
 * play more than `maxLatencyMs` late is dropped, so a stall never turns into growing delay.
 * Browsers start audio only after a user gesture: call {@link AudioPlayer.enable} from a click.
 */
import type { Message } from '../protocol/message.js';

export type AudioMessage = Extract<Message, { kind: 'audio-pcm' | 'audio-compressed' }>;

/** Channel counts and sample rates Web Audio's `createBuffer` accepts; other chunks are dropped. */
export const AUDIO_LIMITS = { maxChannels: 32, minSampleRate: 3000, maxSampleRate: 384000 } as const;

export interface AudioPlayerOptions {
  /** Scheduling headroom (ms). Default 60. */
  jitterMs?: number;
  /** Queued audio beyond this (ms) is dropped. Default 400. */
  maxLatencyMs?: number;
}

export interface AudioStats {
  /** Chunks received (played or not). */
  received: number;
  played: number;
  /** Dropped: not enabled yet, too late, undecodable, or an impossible format (channels, rate). */
  dropped: number;
  /** Times the buffer ran dry and playback restarted after `jitterMs`. */
  underruns: number;
}

/**
 * @example
 * ```ts
 * const player = new AudioPlayer();
 * button.onclick = () => void player.enable();      // a user gesture
 * view.on('media', (m) => { if (m.kind === 'audio-pcm' || m.kind === 'audio-compressed') player.push(m); });
 * ```
 */
export class AudioPlayer {
  readonly stats: AudioStats = { received: 0, played: 0, dropped: 0, underruns: 0 };
  private ctx: AudioContext | undefined;
  private nextTime = 0;
  private decoder: AudioDecoder | undefined;
  private decoderKey = '';
  private opusTime = 0;

  constructor(private readonly options: AudioPlayerOptions = {}) {}

  /** True once the AudioContext runs. */
  get enabled(): boolean {
    return this.ctx !== undefined && this.ctx.state === 'running';
  }

  /** Creates (or resumes) the AudioContext; call it from a user gesture. */
  async enable(): Promise<void> {
    this.ctx ??= new AudioContext({ latencyHint: 'interactive' });
    if (this.ctx.state !== 'running') await this.ctx.resume();
  }

  /** True where AudioCompressed (Opus) can be decoded. */
  static get canDecodeOpus(): boolean {
    return typeof AudioDecoder !== 'undefined';
  }

  push(m: AudioMessage): void {
    this.stats.received++;
    const { channels, sampleRate } = m;
    if (!this.enabled || !(channels >= 1 && channels <= AUDIO_LIMITS.maxChannels && sampleRate >= AUDIO_LIMITS.minSampleRate && sampleRate <= AUDIO_LIMITS.maxSampleRate)) {
      this.stats.dropped++;
      return;
    }
    if (m.kind === 'audio-pcm') return this.playInterleaved(m.samples, m.channels, m.sampleRate);
    this.decodeOpus(m);
  }

  /** Stops playback and releases the AudioContext. */
  async close(): Promise<void> {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    const ctx = this.ctx;
    this.ctx = undefined;
    await ctx?.close();
  }

  private playInterleaved(samples: Float32Array, channels: number, sampleRate: number): void {
    const ch = channels;
    const frames = Math.floor(samples.length / ch);
    if (frames === 0) return void this.stats.dropped++;
    const buf = this.ctx!.createBuffer(ch, frames, sampleRate);
    for (let c = 0; c < ch; c++) {
      const out = buf.getChannelData(c);
      for (let i = 0, j = c; i < frames; i++, j += ch) out[i] = samples[j]!;
    }
    this.schedule(buf);
  }

  private schedule(buf: AudioBuffer): void {
    const ctx = this.ctx!;
    const now = ctx.currentTime;
    const jitter = (this.options.jitterMs ?? 60) / 1000;
    if (this.nextTime < now + 0.005) {
      if (this.stats.played > 0) this.stats.underruns++;
      this.nextTime = now + jitter;
    } else if (this.nextTime - now > (this.options.maxLatencyMs ?? 400) / 1000) {
      this.stats.dropped++;
      return;
    }
    const node = ctx.createBufferSource();
    node.buffer = buf;
    node.connect(ctx.destination);
    node.start(this.nextTime);
    this.nextTime += buf.duration;
    this.stats.played++;
  }

  private decodeOpus(m: Extract<AudioMessage, { kind: 'audio-compressed' }>): void {
    if (!AudioPlayer.canDecodeOpus) return void this.stats.dropped++;
    const key = `${m.sampleRate}/${m.channels}`;
    if (!this.decoder || this.decoder.state === 'closed' || key !== this.decoderKey) {
      if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
      this.decoderKey = key;
      this.decoder = new AudioDecoder({
        output: (data) => this.playAudioData(data),
        error: () => {
          this.stats.dropped++;
        },
      });
    }
    // Each packet is independent for the decoder's purposes; timestamps only need to increase.
    this.opusTime += 20_000;
    try {
      // configure() throws for a configuration the browser refuses, decode() for a closed decoder.
      if (this.decoder.state === 'unconfigured') this.decoder.configure({ codec: 'opus', sampleRate: m.sampleRate, numberOfChannels: m.channels });
      this.decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: this.opusTime, data: m.data }));
    } catch {
      this.stats.dropped++;
    }
  }

  private playAudioData(data: AudioData): void {
    try {
      if (!this.ctx) return;
      const ch = data.numberOfChannels;
      const buf = this.ctx.createBuffer(ch, data.numberOfFrames, data.sampleRate);
      for (let c = 0; c < ch; c++) {
        const plane = new Float32Array(data.numberOfFrames);
        data.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
        buf.copyToChannel(plane, c);
      }
      this.schedule(buf);
    } catch {
      this.stats.dropped++; // e.g. a decoded format Web Audio refuses: never a page error
    } finally {
      data.close();
    }
  }
}
