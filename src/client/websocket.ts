/**
 * Which WebSocket to use: the global one (browsers, Node ≥ 22) or the `ws` package on Node 20.
 * `ws` is imported lazily, so the browser bundle never loads it.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  /** Bytes queued and not yet sent (browsers and `ws` have it). */
  readonly bufferedAmount?: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

let cached: WebSocketCtor | undefined;

export async function resolveWebSocket(explicit?: WebSocketCtor): Promise<WebSocketCtor> {
  if (explicit) return explicit;
  if (cached) return cached;
  const g = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (g) return (cached = g);
  const mod = (await import('ws')) as unknown as { default: WebSocketCtor };
  return (cached = mod.default);
}
