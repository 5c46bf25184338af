/**
 * Every error the client reports. All extend {@link SluiceError} (a machine-readable `code`) through
 * {@link ClientError}, which also says what the client does next: `fatal: true` (it stopped for
 * good) or `retryInMs` (it retries after that long). docs/client.md has the same table.
 */
import { SluiceError } from '../protocol/errors.js';
import { closeCodeInfo } from '../protocol/close-codes.js';

/** Base of the SDK's errors. */
export class ClientError extends SluiceError {
  /** True when the view/source stopped for good because of this error. */
  readonly fatal: boolean;
  /** Set when the client will reconnect: the delay before the next attempt (ms). */
  readonly retryInMs: number | undefined;
  constructor(code: string, message: string, options: { fatal?: boolean; retryInMs?: number; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.fatal = options.fatal ?? false;
    this.retryInMs = options.retryInMs;
  }
}

/**
 * A connection attempt failed or an open connection dropped; the client retries after `retryInMs`.
 * `code` is `client/unreachable` when no WebSocket could be opened (relay down, wrong port), else
 * `client/disconnected` (with the relay's close code and reason).
 */
export class ConnectionError extends ClientError {
  readonly closeCode: number;
  readonly reason: string;
  constructor(kind: 'unreachable' | 'disconnected', closeCode: number, reason: string, retryInMs: number) {
    const what = kind === 'unreachable' ? 'relay unreachable' : `connection closed (${closeCode} ${closeCodeInfo(closeCode).name}${reason ? `: ${reason}` : ''})`;
    super(`client/${kind}`, `${what}; retrying in ${retryInMs} ms`, { retryInMs });
    this.name = 'ConnectionError';
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/**
 * The relay refused in a way retrying cannot fix (4401, 4403, 4404, 4400 at the handshake, 4409 for
 * a source that did not ask to wait). Fatal: the view/source is now `refused`.
 */
export class ConnectionRefusedError extends ClientError {
  readonly closeCode: number;
  readonly reason: string;
  constructor(closeCode: number, reason: string) {
    super('client/refused', `connection refused (${closeCode} ${closeCodeInfo(closeCode).name}): ${reason || 'no reason given'}`, { fatal: true });
    this.name = 'ConnectionRefusedError';
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** The view/source was closed while something still waited on it (`when.*`, `call`, `logsAcked`). */
export class ClosedError extends ClientError {
  constructor(what: string) {
    super('client/closed', `${what}: closed`, { fatal: true });
    this.name = 'ClosedError';
  }
}

/** Incoming state failed the view's schema; the frame was not applied. */
export class SchemaValidationError extends ClientError {
  readonly issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }>;
  constructor(issues: SchemaValidationError['issues']) {
    super('client/schema-invalid', `state failed schema validation: ${issues.map((i) => i.message).join('; ')}`);
    this.name = 'SchemaValidationError';
    this.issues = issues;
  }
}

/** A frame from the relay could not be decoded or applied. */
export class BadFrameError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('client/bad-frame', message, options);
    this.name = 'BadFrameError';
  }
}

/**
 * An RPC call failed. `code` is `rpc/<reason>`: `rpc/timeout`, `rpc/closed`, `rpc/no-source` (the
 * channel has no source), `rpc/source-busy` (the source is not reading), `rpc/not-found` (no
 * handler), `rpc/handler-failed` (the handler threw), or what the source answered.
 */
export class RpcError extends ClientError {
  /** The reason alone (`timeout`, `no-source`, …). */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(`rpc/${reason}`, message);
    this.name = 'RpcError';
    this.reason = reason;
  }
}

/** The relay sent a non-fatal Error frame (e.g. an input was dropped because no source is connected). */
export class RelayError extends ClientError {
  readonly closeCode: number;
  constructor(closeCode: number, message: string) {
    super(`relay/${closeCodeInfo(closeCode).name}`, message);
    this.name = 'RelayError';
    this.closeCode = closeCode;
  }
}

/**
 * A value assigned to a source's state (or passed to `set`/`replace`/`initial`) is not JSON data:
 * NaN, ±Infinity, a function, a symbol, a bigint, a class instance (Date, Map, typed arrays…) or a
 * cycle. Thrown synchronously at the assignment; nothing was changed.
 */
export class InvalidValueError extends ClientError {
  /** Dotted path of the offending value. */
  readonly path: string;
  constructor(path: string, what: string) {
    super('client/invalid-value', `${path || '(state)'}: ${what} is not JSON data`);
    this.name = 'InvalidValueError';
    this.path = path;
  }
}

/**
 * `publishPixels` was given a picture that cannot be sent: width or height not an integer in
 * 1–65535 (the wire's u16), or an RGBA buffer that is not `width × height × 4` bytes. Thrown
 * synchronously; nothing was sent (the relay would otherwise close the source).
 */
export class InvalidPictureError extends ClientError {
  constructor(message: string) {
    super('client/invalid-picture', message);
    this.name = 'InvalidPictureError';
  }
}

/** `logsAcked()` ran out of time before the relay acknowledged every record. */
export class LogAckTimeoutError extends ClientError {
  readonly unacked: number;
  constructor(unacked: number, timeoutMs: number) {
    super('client/log-ack-timeout', `${unacked} log record(s) still unacknowledged after ${timeoutMs} ms`);
    this.name = 'LogAckTimeoutError';
    this.unacked = unacked;
  }
}

/** The unacknowledged-log buffer overflowed its bound; the oldest records were dropped. */
export class LogOverflowError extends ClientError {
  /** Records dropped by this overflow. */
  readonly dropped: number;
  constructor(dropped: number, limitBytes: number) {
    super('client/log-overflow', `unacknowledged log records exceed ${limitBytes} bytes; dropped the ${dropped} oldest`);
    this.name = 'LogOverflowError';
    this.dropped = dropped;
  }
}
