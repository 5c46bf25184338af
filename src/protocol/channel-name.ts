/** Channel names and URL roles, shared by the relay and clients. */

/** 1–128 characters from A–Z a–z 0–9 _ - . : @ (`:` as in `process:build-1`). */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_\-.:@]{1,128}$/;
export const DEFAULT_CHANNEL = 'default';

export function isValidChannelName(name: string): boolean {
  return CHANNEL_NAME_PATTERN.test(name);
}

/** Path prefix of each role; `/peer` is an alias of `/source`. */
export const ROLE_PATHS = { source: '/source', receiver: '/stream', signal: '/signal' } as const;
