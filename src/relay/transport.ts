/**
 * The relay's view of a socket library: a connection that sends bytes, reports how much it has
 * queued, batches writes, and closes with a code. Only ws-transport.ts knows about `ws`, so a
 * faster transport can replace it without touching routing, filtering or queueing code.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

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
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  setHandlers(handlers: PeerHandlers): void;
}

export interface Transport {
  /** Frames one protocol message for the wire, so it can be built once and written to many peers. */
  frame(payload: Uint8Array): Uint8Array;
  /** Completes a WebSocket upgrade on a node:http `upgrade` event (transports that ride on node:http). */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, done: (conn: PeerConnection) => void): void;
  close(): void;
}
