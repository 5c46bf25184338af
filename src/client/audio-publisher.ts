/**
 * Streams audio from the browser: a MediaStream (microphone, a <video>'s captureStream) or any
 * AudioNode becomes AudioPcm frames (interleaved f32) of `chunkMs` each, or Opus AudioCompressed
 * frames through WebCodecs' AudioEncoder when asked for and available. Capture runs in an
 * AudioWorklet (a ScriptProcessor where worklets are missing).
 */
import type { Message } from '../protocol/message.js';

/** What an audio publisher needs from a source (a {@link Source} has it). */
export interface AudioSink {
  publishFrame(frame: Message): boolean;
}

export interface PublishAudioOptions {
  /** Samples per frame, in ms of audio. Default 20. */
  chunkMs?: number;
  /** Channels to send (1 or 2). Default: 1. */
  channels?: number;
  /** `pcm` (default) or `opus` (falls back to PCM where AudioEncoder cannot do Opus). */
  codec?: 'pcm' | 'opus';
  /** Opus bitrate (bit/s). Default 64000. */
  bitrate?: number;
  /** The AudioContext to use (default: the node's, or a new one). */
  context?: AudioContext;
}

export interface AudioPublisher {
  /** Frames sent so far. */
  readonly frames: number;
  /** `pcm` or `opus`: what is actually sent. */
  readonly codec: 'pcm' | 'opus';
  stop(): Promise<void>;
}

const WORKLET = `registerProcessor('sluice-capture', class extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input.length) this.port.postMessage(input.map((c) => c.slice()));
    return true;
  }
});`;

/**
 * Publishes audio from `input` through `sink`; see `Source#publishAudio`.
 */
export async function publishAudio(sink: AudioSink, input: MediaStream | AudioNode, options: PublishAudioOptions = {}): Promise<AudioPublisher> {
  const ctx = options.context ?? (input instanceof AudioNode ? (input.context as AudioContext) : new AudioContext());
  if (ctx.state !== 'running') await ctx.resume().catch(() => undefined);
  const node = input instanceof AudioNode ? input : ctx.createMediaStreamSource(input);
  const channels = Math.max(1, Math.min(2, options.channels ?? 1));
  const rate = ctx.sampleRate;
  const chunk = Math.max(1, Math.round((rate * (options.chunkMs ?? 20)) / 1000));
  let frames = 0;
  let codec: 'pcm' | 'opus' = 'pcm';
  let encoder: AudioEncoder | undefined;
  if (options.codec === 'opus' && typeof AudioEncoder !== 'undefined') {
    const config: AudioEncoderConfig = { codec: 'opus', sampleRate: rate, numberOfChannels: channels, bitrate: options.bitrate ?? 64_000 };
    const support = await AudioEncoder.isConfigSupported(config).catch(() => undefined);
    if (support?.supported) {
      encoder = new AudioEncoder({
        output: (c) => {
          const data = new Uint8Array(c.byteLength);
          c.copyTo(data);
          if (sink.publishFrame({ kind: 'audio-compressed', sampleRate: rate, channels, data })) frames++;
        },
        error: () => undefined,
      });
      encoder.configure(config);
      codec = 'opus';
    }
  }

  // Planar input blocks accumulate into one chunk of `chunk` frames per channel.
  const planes = Array.from({ length: channels }, () => new Float32Array(chunk));
  let filled = 0;
  let sampleTime = 0;
  const flush = () => {
    if (encoder) {
      const data = new Float32Array(chunk * channels);
      planes.forEach((p, c) => data.set(p, c * chunk));
      encoder.encode(new AudioData({ format: 'f32-planar', sampleRate: rate, numberOfFrames: chunk, numberOfChannels: channels, timestamp: Math.round((sampleTime / rate) * 1e6), data }));
    } else {
      const samples = new Float32Array(chunk * channels);
      for (let i = 0, j = 0; i < chunk; i++) for (let c = 0; c < channels; c++) samples[j++] = planes[c]![i]!;
      if (sink.publishFrame({ kind: 'audio-pcm', sampleRate: rate, channels, samples })) frames++;
    }
    sampleTime += chunk;
    filled = 0;
  };
  const take = (block: Float32Array[]) => {
    const n = block[0]?.length ?? 0;
    for (let i = 0; i < n; ) {
      const k = Math.min(n - i, chunk - filled);
      for (let c = 0; c < channels; c++) planes[c]!.set((block[c] ?? block[0]!).subarray(i, i + k), filled);
      filled += k;
      i += k;
      if (filled === chunk) flush();
    }
  };

  // Nothing is heard from the capture path: it ends in a muted gain so the graph keeps pulling it.
  const mute = ctx.createGain();
  mute.gain.value = 0;
  mute.connect(ctx.destination);
  let capture: AudioNode;
  if (ctx.audioWorklet) {
    const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const w = new AudioWorkletNode(ctx, 'sluice-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: channels, channelCountMode: 'explicit' });
    w.port.onmessage = (ev: MessageEvent<Float32Array[]>) => take(ev.data);
    capture = w;
  } else {
    const sp = ctx.createScriptProcessor(2048, channels, channels);
    sp.onaudioprocess = (ev) => take(Array.from({ length: ev.inputBuffer.numberOfChannels }, (_, c) => ev.inputBuffer.getChannelData(c)));
    capture = sp;
  }
  node.connect(capture);
  capture.connect(mute);

  return {
    get frames() {
      return frames;
    },
    codec,
    async stop() {
      node.disconnect(capture);
      capture.disconnect();
      mute.disconnect();
      if (encoder && encoder.state !== 'closed') {
        await encoder.flush().catch(() => undefined);
        encoder.close();
      }
    },
  };
}
