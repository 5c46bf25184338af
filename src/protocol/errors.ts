/**
 * Error classes shared by every layer. Each carries a stable, machine-readable `code`;
 * protocol errors also carry the WebSocket close code a peer should use when refusing the input.
 */
import { CloseCode } from './close-codes.js';

/** Base class of every error Sluice throws on purpose. */
export class SluiceError extends Error {
  /** Stable machine-readable identifier, e.g. `"protocol/short-buffer"`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
  }
}

/** Why a buffer was refused by a decoder. */
export type ProtocolErrorCode =
  | 'short-buffer'
  | 'length-mismatch'
  | 'unknown-type'
  | 'too-large'
  | 'bad-payload'
  | 'bad-json'
  | 'too-deep'
  | 'bad-delta';

/**
 * Thrown by every decoder for malformed input. Decoders throw nothing else, so a relay can
 * catch this one class, close with {@link ProtocolError.closeCode} and carry on.
 */
export class ProtocolError extends SluiceError {
  readonly reason: ProtocolErrorCode;
  /** WebSocket close code to send when this error ends a connection. */
  readonly closeCode: number;
  constructor(reason: ProtocolErrorCode, message: string, options?: { cause?: unknown; closeCode?: number }) {
    super(`protocol/${reason}`, message, options);
    this.name = 'ProtocolError';
    this.reason = reason;
    this.closeCode = options?.closeCode ?? (reason === 'too-large' ? CloseCode.TooLarge : CloseCode.BadFrame);
  }
}
