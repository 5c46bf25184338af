/**
 * The Sluice client: isomorphic (browsers and Node ≥ 20). Uses `globalThis.WebSocket`, falling
 * back to the `ws` package on Node 20. The wire protocol lives in `sluice/protocol`.
 */
export { source, Source } from './source.js';
export type { SourceOptions, SourceEvents, SourceChange, RpcHandler } from './source.js';
export { subscribe, StreamView } from './stream-view.js';
export type { SubscribeOptions, StreamViewEvents, ChangeEvent, PixelFrame, ImageFrame, LogRecordEvent, TruncationInfo } from './stream-view.js';
export type { ConnectionState, StateChange, Welcome, EndpointEvents } from './endpoint.js';
export { compose, Derived } from './compose.js';
export type { Readable, DerivedEvents } from './compose.js';
export { inputs } from './input-helpers.js';
// Pixels, audio and input: what Node can use too. Browser-only helpers are added in browser-entry.ts.
export { PictureDecoder, isPictureMessage, MAX_PICTURE_PIXELS } from './picture-decoder.js';
export type { PictureMessage, PictureDecoderOptions, ImageBytesDecoder } from './picture-decoder.js';
export { MediaView, subscribeMedia } from './canvas-view.js';
export type { CanvasPublisher, PublishCanvasOptions, CanvasStats, CanvasSink } from './canvas-publisher.js';
export type { CanvasMode, CanvasEncoderSettings, CanvasFrameInput, EncodedFrame, EncodedKind } from './canvas-encoder.js';
export type { CaptureOptions, Box } from './canvas-input.js';
export type { AudioPlayer, AudioPlayerOptions, AudioStats, AudioMessage } from './audio-player.js';
export type { AudioPublisher, AudioSink, PublishAudioOptions } from './audio-publisher.js';
export type { BackoffOptions } from './backoff.js';
export type { ConnectionOptions } from './connection.js';
export {
  ClientError,
  ConnectionError,
  ConnectionRefusedError,
  ClosedError,
  SchemaValidationError,
  BadFrameError,
  RpcError,
  RelayError,
  InvalidPictureError,
  InvalidValueError,
  LogAckTimeoutError,
  LogOverflowError,
} from './errors.js';
export { SluiceError } from '../protocol/errors.js';
export type { JsonObject, JsonValue } from '../protocol/utf8.js';
export type { InputEvent } from '../protocol/inputs.js';
export type { LogStreamName } from '../protocol/control.js';
export { AnsiRenderer, ansiToHtml } from './ansi-to-html.js';
