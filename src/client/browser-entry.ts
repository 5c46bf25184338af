/** The module the relay serves at /sluice.js: the whole client, no build step needed. */
export * from './index.js';
// Browser-only pieces of pixels, audio and input (they need a DOM, Web Audio or OffscreenCanvas).
export { captureInput, mapToFrame } from './canvas-input.js';
export { AudioPlayer } from './audio-player.js';
export { publishAudio } from './audio-publisher.js';
export { CanvasPublisher, publishCanvas } from './canvas-publisher.js';
export { CanvasFrameEncoder } from './canvas-encoder.js';
export { decodeImageBytes, imageMimeType } from './picture-decoder.js';
// WebRTC media links (RTCPeerConnection): docs/webrtc.md.
export * from './webrtc-link.js';
