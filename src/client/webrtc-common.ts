/**
 * What the source and receiver sides of the WebRTC media link share: data channel labels and
 * settings, how a frame is routed (which channel, whether it restarts a picture's delta chain),
 * and finding `RTCPeerConnection` without touching browser globals at import time.
 */
import { Flag, FrameType } from '../protocol/frame-codes.js';
import { DEFAULT_MAX_PAYLOAD, HEADER_SIZE } from '../protocol/header.js';
import type { WebSocketCtor } from './websocket.js';

/**
 * The ordered, reliable channel: pictures and inputs. Pictures must be ordered and complete
 * because a DeltaPixels frame is XORed onto the previous picture: one lost or reordered delta
 * corrupts every picture until the next keyframe. Inputs need order too (key down before key up).
 */
export const MEDIA_LABEL = 'sluice-media';
/**
 * The unordered channel without retransmissions: audio. A late audio frame is worse than a lost
 * one (the player has moved on), and on a reliable channel one lost packet would hold back every
 * later frame (head-of-line blocking). Audio frames are small, so they are never chunked here; one
 * above the channel's message size is sent on the media channel instead.
 */
export const AUDIO_LABEL = 'sluice-audio';

/** Chunks are at most this big even where the channel allows more, so audio and inputs interleave. */
export const MAX_CHUNK = 64 * 1024;
/** Biggest frame reassembled: the protocol's default payload limit plus its header. */
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_MAX_PAYLOAD + HEADER_SIZE;

/** How a frame travels: `audio` (unordered channel), `full` picture, `delta` picture, `other`. */
export type FrameRoute = 'audio' | 'full' | 'delta' | 'other';

/** Routes a complete protocol frame by its header (the frame is not decoded). */
export function frameRoute(frame: Uint8Array): FrameRoute {
  if (frame.length < HEADER_SIZE) return 'other';
  const type = frame[0]!;
  const flags = frame[1]!;
  if (flags & Flag.Input) return 'other';
  const length = new DataView(frame.buffer, frame.byteOffset, HEADER_SIZE).getUint32(12, true);
  switch (type) {
    case FrameType.AudioPcm:
    case FrameType.AudioCompressed:
    case FrameType.NeuralAudio:
      return 'audio';
    case FrameType.DeltaPixels:
      return 'delta';
    case FrameType.CompressedPixels:
      return 'full';
    case FrameType.Pixels:
    case FrameType.Keyframe:
      // An empty Keyframe/Pixels carries no picture (a reset or a marker), so it restarts nothing.
      return length > 0 ? 'full' : 'other';
    default:
      return 'other';
  }
}

/** True when `frame` is at least a header and its length field matches its size. */
export function wellFramed(frame: Uint8Array): boolean {
  if (frame.length < HEADER_SIZE) return false;
  return new DataView(frame.buffer, frame.byteOffset, HEADER_SIZE).getUint32(12, true) === frame.length - HEADER_SIZE;
}

/** Options both sides take. */
export interface MediaLinkOptions {
  /** The channel's `/signal/{channel}` URL (see `signalUrlFor`), with `?token=` when the relay needs one. */
  signalUrl: string;
  /** ICE servers (STUN/TURN). Default none: host candidates only, which works on one machine or LAN. */
  iceServers?: RTCIceServer[];
  /** The WebSocket constructor for `/signal` (default: the global one, or `ws` on Node 20). */
  WebSocket?: WebSocketCtor;
  /** The RTCPeerConnection constructor (default: the global one). Without one the link never opens. */
  RTCPeerConnection?: typeof RTCPeerConnection;
}

/** The RTCPeerConnection constructor to use, or undefined where there is none (Node). */
export function findPeerConnection(explicit?: typeof RTCPeerConnection): typeof RTCPeerConnection | undefined {
  if (explicit) return explicit;
  const g = (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;
  return typeof g === 'function' ? g : undefined;
}

/** Largest data channel message to send on `pc`: its SCTP limit, capped at {@link MAX_CHUNK}. */
export function chunkLimit(pc: RTCPeerConnection): number {
  const max = pc.sctp?.maxMessageSize;
  return typeof max === 'number' && Number.isFinite(max) && max >= 1024 ? Math.min(max, MAX_CHUNK) : MAX_CHUNK;
}

/** Data channel message data → bytes (`binaryType` is `arraybuffer`; anything else is refused). */
export function messageBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** Sends without throwing (a channel that is closing throws); false when it did not go out. */
export function trySend(dc: RTCDataChannel, data: Uint8Array): boolean {
  if (dc.readyState !== 'open') return false;
  try {
    dc.send(data as Uint8Array<ArrayBuffer>);
    return true;
  } catch {
    return false;
  }
}
