/**
 * The relay's view of a socket layer, one shape for every host (node:http + ws, uWebSockets.js):
 * a connection that sends bytes, reports how much it has queued, batches writes, pauses reading
 * and closes with a code; and minimal HTTP request/response shapes, so the relay's HTTP routes
 * never depend on one library's types.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface PeerHandlers {
  message(data: Uint8Array, isBinary: boolean): void;
  close(code: number, reason: string): void;
  /** The outbound queue emptied (after having data queued). */
  drain(): void;
  /** A WebSocket-level pong (or any sign of life the transport sees). */
  pong(): void;
}

export interface PeerConnection {
  readonly remoteAddress: string;
  readonly isOpen: boolean;
  /** Bytes accepted by send() and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  sendText(text: string): void;
  /** True when writeFramed() takes bytes produced by Transport.frame(). */
  readonly acceptsFramed: boolean;
  /** True when several framed messages may be concatenated into one writeFramed() call (a byte stream). */
  readonly concatenable: boolean;
  /** Writes bytes already framed by Transport.frame(), as they are. */
  writeFramed(bytes: Uint8Array): void;
  /** Runs `fn`, coalescing the sends it makes into as few socket writes as possible. */
  batch(fn: () => void): void;
  /** Closes with `code`; `reason` is cut to the protocol's 123 bytes at a character boundary. */
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  /** Stops reading from the socket (TCP push-back); messages already read are still delivered. */
  pause(): void;
  resume(): void;
  setHandlers(handlers: PeerHandlers): void;
}

/** What the relay needs of an HTTP request. */
export interface HttpRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** What the relay needs of an HTTP response. */
export interface HttpResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  end(body?: string | Uint8Array): unknown;
}

/** An HTTP route: answers and returns true, or returns false to let the next one try. */
export type HttpRoute = (req: HttpRequest, res: HttpResponse) => boolean;

/** Longest WebSocket close reason, in UTF-8 bytes (RFC 6455 §5.5: 125-byte control payload − 2). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Cuts a close reason to {@link MAX_CLOSE_REASON_BYTES} UTF-8 bytes without splitting a character
 * (a reason cut mid-character would grow back past the limit when re-encoded, and `ws` throws).
 */
export function closeReason(reason: string): string {
  const bytes = Buffer.from(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  // Step back over continuation bytes (10xxxxxx) to the start of the character that did not fit.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

export interface Transport {
  /** Frames one protocol message for the wire, so it can be built once and written to many peers. */
  frame(payload: Uint8Array): Uint8Array;
  close(): void;
}
