/**
 * The Sluice wire protocol: pure, isomorphic (Uint8Array/DataView only, no I/O), so the same
 * module runs in Node and in browsers. See docs/protocol.md for the byte-level specification.
 */
export * from './errors.js';
export * from './close-codes.js';
export * from './frame-codes.js';
export * from './header.js';
export * from './utf8.js';
export * from './own.js';
export * from './merge-patch.js';
export * from './select.js';
export * from './delta-codec.js';
export * from './inputs.js';
export * from './audio.js';
export * from './control.js';
export * from './message.js';
export * from './channel-name.js';
