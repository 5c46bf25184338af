/**
 * WebRTC media links: an optional second path for media frames (pixels, audio, inputs) between a
 * source and its receivers, negotiated through the relay's `/signal/{channel}` route. State,
 * catch-up and the relay's authority stay on the WebSocket; the receiver keeps the relay's stream
 * and falls back to it whenever the link is not healthy. docs/webrtc.md explains when this helps.
 *
 * - {@link SourceMediaLinks}: the source side, one peer connection per receiver that asks.
 * - {@link ReceiverMediaLink}: the receiver side, one peer connection to the source.
 */
export { SourceMediaLinks } from './webrtc-source-links.js';
export type { SourceMediaLinksOptions, SourceMediaLinksEvents, SourcePeerState } from './webrtc-source-links.js';
export { ReceiverMediaLink } from './webrtc-receiver-link.js';
export type { ReceiverMediaLinkOptions, ReceiverMediaLinkEvents, ReceiverLinkState, MediaTransport } from './webrtc-receiver-link.js';
export { signalUrlFor, parseSignal, sdpFingerprint } from './webrtc-signaling.js';
export type { SignalMessage, SignalRole, SignalType } from './webrtc-signaling.js';
export type { MediaLinkOptions, FrameRoute } from './webrtc-common.js';
