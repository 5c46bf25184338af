/** Errors the client reports on views and sources. */
import { SluiceError } from '../protocol/errors.js';
import { closeCodeInfo } from '../protocol/close-codes.js';

/** The relay closed the connection with a code that says: do not retry (4401, 4403, 4404). */
export class ConnectionRefusedError extends SluiceError {
  readonly closeCode: number;
  readonly reason: string;
  constructor(closeCode: number, reason: string) {
    super('client/refused', `connection refused (${closeCode} ${closeCodeInfo(closeCode).name}): ${reason || 'no reason given'}`);
    this.name = 'ConnectionRefusedError';
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** Incoming state failed the view's schema; the frame was not applied. */
export class SchemaValidationError extends SluiceError {
  readonly issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }>;
  constructor(issues: SchemaValidationError['issues']) {
    super('client/schema-invalid', `state failed schema validation: ${issues.map((i) => i.message).join('; ')}`);
    this.name = 'SchemaValidationError';
    this.issues = issues;
  }
}

/** A frame from the relay could not be decoded or applied. */
export class BadFrameError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('client/bad-frame', message, options);
    this.name = 'BadFrameError';
  }
}

/** An RPC call failed: the source answered with an error, or the call timed out / was not delivered. */
export class RpcError extends SluiceError {
  constructor(code: string, message: string) {
    super(`rpc/${code}`, message);
    this.name = 'RpcError';
  }
}

/** The relay sent a non-fatal Error frame (e.g. an input was dropped because no source is connected). */
export class RelayError extends SluiceError {
  readonly closeCode: number;
  constructor(closeCode: number, message: string) {
    super(`relay/${closeCodeInfo(closeCode).name}`, message);
    this.name = 'RelayError';
    this.closeCode = closeCode;
  }
}
