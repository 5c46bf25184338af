/**
 * Audio payloads (AudioPcm 0x10, AudioCompressed 0x11, NeuralAudio 0x41) share an 8-byte
 * prefix so samples stay 4-byte aligned relative to the payload:
 *
 *   sampleRate u32 | channels u8 | reserved u8×3 (0) | data…
 *
 * For AudioPcm and NeuralAudio, data is interleaved f32 LE samples; for AudioCompressed it is
 * one Opus packet.
 */
import { ProtocolError } from './errors.js';

export const AUDIO_PREFIX_SIZE = 8;

export function encodeAudioPrefix(sampleRate: number, channels: number, dataLength: number): [Uint8Array, DataView] {
  const b = new Uint8Array(AUDIO_PREFIX_SIZE + dataLength);
  const v = new DataView(b.buffer);
  v.setUint32(0, sampleRate >>> 0, true);
  v.setUint8(4, channels);
  return [b, v];
}

export function encodePcm(sampleRate: number, channels: number, samples: Float32Array): Uint8Array {
  const [b, v] = encodeAudioPrefix(sampleRate, channels, samples.length * 4);
  for (let i = 0; i < samples.length; i++) v.setFloat32(AUDIO_PREFIX_SIZE + i * 4, samples[i]!, true);
  return b;
}

export function decodeAudioPrefix(p: Uint8Array): { sampleRate: number; channels: number; data: Uint8Array } {
  if (p.length < AUDIO_PREFIX_SIZE) throw new ProtocolError('bad-payload', `audio payload shorter than its ${AUDIO_PREFIX_SIZE}-byte prefix`);
  const v = new DataView(p.buffer, p.byteOffset, p.length);
  return { sampleRate: v.getUint32(0, true), channels: v.getUint8(4), data: p.subarray(AUDIO_PREFIX_SIZE) };
}

export function decodePcm(p: Uint8Array): { sampleRate: number; channels: number; samples: Float32Array } {
  const { sampleRate, channels, data } = decodeAudioPrefix(p);
  if (data.length % 4 !== 0) throw new ProtocolError('bad-payload', 'PCM data must be whole f32 samples');
  const samples = new Float32Array(data.length / 4);
  const v = new DataView(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < samples.length; i++) samples[i] = v.getFloat32(i * 4, true);
  return { sampleRate, channels, samples };
}
