/**
 * The Sluice client: isomorphic (browsers and Node ≥ 20). Uses `globalThis.WebSocket`, falling
 * back to the `ws` package on Node 20.
 */
export { source, Source } from './source.js';
export type { SourceOptions, SourceEvents, RpcHandler } from './source.js';
export { subscribe, StreamView, changedPaths } from './stream-view.js';
export type { SubscribeOptions, StreamViewEvents, PixelFrame, LogRecordEvent } from './stream-view.js';
export { compose, Derived } from './compose.js';
export type { Readable } from './compose.js';
export { inputs } from './input-helpers.js';
export { Connection } from './connection.js';
export type { ConnectionOptions } from './connection.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { ConnectionRefusedError, SchemaValidationError, BadFrameError, RpcError, RelayError } from './errors.js';
export * from '../protocol/index.js';
export { AnsiRenderer, ansiToHtml } from './ansi-to-html.js';
