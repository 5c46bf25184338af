/**
 * WebSocket close codes with a stable meaning that clients act on. Non-retryable codes end a
 * client's reconnect loop; the others back off and retry. docs/protocol.md has the same table.
 */

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  TooLarge: 1009,
  BadFrame: 4400,
  Unauthenticated: 4401,
  NotAllowed: 4403,
  NotFound: 4404,
  SourceConflict: 4409,
  TooSlow: 4413,
  RateLimited: 4429,
  NoCapacity: 4509,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** One row of the close-code table. */
export interface CloseCodeInfo {
  readonly code: number;
  readonly name: string;
  /** Whether a client should reconnect (with backoff) after this close. */
  readonly retryable: boolean;
  readonly meaning: string;
}

export const CLOSE_CODES: readonly CloseCodeInfo[] = [
  { code: 1000, name: 'Normal', retryable: false, meaning: 'the peer closed on purpose (e.g. close() was called)' },
  { code: 1001, name: 'GoingAway', retryable: true, meaning: 'the relay is shutting down or restarting' },
  { code: 1009, name: 'TooLarge', retryable: true, meaning: 'a frame exceeded the maximum payload size, or a JSON payload the maximum JSON payload size' },
  { code: 4400, name: 'BadFrame', retryable: true, meaning: 'malformed frame (JSON nested deeper than 64 included), bad channel name, or a frame the role may not send' },
  { code: 4401, name: 'Unauthenticated', retryable: false, meaning: 'no valid credentials were presented, or they expired while connected' },
  { code: 4403, name: 'NotAllowed', retryable: false, meaning: 'credentials are valid but do not allow this channel/role (or origin)' },
  { code: 4404, name: 'NotFound', retryable: false, meaning: 'the channel or path does not exist' },
  { code: 4409, name: 'SourceConflict', retryable: true, meaning: 'the channel already has a source, or this source was taken over' },
  { code: 4413, name: 'TooSlow', retryable: true, meaning: 'the receiver fell too far behind; resume from the last offset' },
  { code: 4429, name: 'RateLimited', retryable: true, meaning: 'inputs refused: the source is not reading' },
  { code: 4509, name: 'NoCapacity', retryable: true, meaning: 'receiver or channel limit reached' },
];

const byCode = new Map(CLOSE_CODES.map((c) => [c.code, c]));

/** Looks a close code up; unknown codes are treated as retryable (abnormal closes, 1006, …). */
export function closeCodeInfo(code: number): CloseCodeInfo {
  return byCode.get(code) ?? { code, name: 'Unknown', retryable: true, meaning: 'not a Sluice close code' };
}

/** True when a client should reconnect after a close with `code`. */
export function isRetryableClose(code: number): boolean {
  return closeCodeInfo(code).retryable;
}
