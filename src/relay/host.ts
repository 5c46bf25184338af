/**
 * One host shape for every socket library: a host accepts HTTP requests and WebSocket upgrades
 * and hands them to the relay through these hooks. ws-transport.ts (node:http + ws) and
 * uws-host.ts (uWebSockets.js) implement it; nothing else knows which one runs.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Route } from './route.js';
import type { HttpRequest, HttpResponse, PeerConnection } from './transport.js';

/** What an upgrade request becomes. */
export type UpgradeDecision =
  /** Refused at the HTTP level (503): the relay is draining. */
  | { kind: 'unavailable' }
  /** Completes the handshake, then an Error frame and a close with `code` (browsers can read it). */
  | { kind: 'refuse'; code: number; reason: string }
  /** The go-ws JSON hub at /ws. */
  | { kind: 'gows'; token: string | undefined; headers: IncomingHttpHeaders; expiresAt: number | undefined }
  /** The operations console's push feed at /api/feed (see http/feed.ts). */
  | { kind: 'feed'; expiresAt: number | undefined }
  /** A peer of a channel. */
  /**
   * A peer of a channel. `requestedAt`: when the upgrade request arrived (before the handshake
   * completes, so a client that connects after seeing another's handshake always has a later one).
   */
  | { kind: 'peer'; route: Route; expiresAt: number | undefined; requestedAt: number };

export interface RelayHooks {
  /** Decides what an upgrade request becomes (before the WebSocket handshake completes). */
  decideUpgrade(url: string, headers: IncomingHttpHeaders, remoteAddress: string): Promise<UpgradeDecision>;
  /** Wires a connection whose handshake completed according to its decision. */
  openConnection(conn: PeerConnection, d: Exclude<UpgradeDecision, { kind: 'unavailable' }>): void;
  handleHttp(req: HttpRequest, res: HttpResponse): Promise<void> | void;
  /** Something failed inside the host while serving one connection: count and log it. */
  internalError(error: unknown, where: string): void;
}

export interface RelayHost {
  readonly port: number;
  /** Frames one protocol message for this host's connections (built once, written to many). */
  frame(payload: Uint8Array): Uint8Array;
  /** Stops listening and closes what is left. */
  close(): Promise<void>;
}
