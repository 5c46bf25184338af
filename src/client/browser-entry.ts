/** The module the relay serves at /sluice.js: the whole client, no build step needed. */
export * from './index.js';
export * from './webrtc-link.js';
