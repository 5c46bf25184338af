/** Sluice for Node: the protocol and the embeddable relay. */
export * from './protocol/index.js';
export { Relay, startRelay } from './relay/server.js';
export type { RelayOptions } from './relay/server.js';
export type { RelayConfig } from './relay/config.js';
export type { Authorize, AuthRequest, AuthDecision } from './relay/auth.js';
export { createJwtAuthorize, channelMatcher } from './relay/auth.js';
export type { Engine, EngineChannel, ChannelSink, SourceUpdate, Delivery } from './relay/engine.js';
export { MemoryEngine } from './relay/engines/memory-engine.js';
export { ProcessDeliveryError, streamProcess } from './process/stream-process.js';
export type { StreamProcessOptions, StreamedProcess, ProcessState } from './process/stream-process.js';
export type { ProcessStatus, ProcessStatusName } from './process/process-status.js';
