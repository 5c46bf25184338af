/**
 * The default host: node:http for HTTP and the `ws` library for WebSockets. Every socket gets an
 * 'error' listener the moment it exists — also the ones the relay is refusing — because an
 * unhandled 'error' (invalid UTF-8, reserved opcodes, RSV bits…) would end the process.
 */
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { RelayHost, RelayHooks } from './host.js';
import { closeReason } from './transport.js';
import type { PeerConnection, PeerHandlers } from './transport.js';

/**
 * A message as a plain Uint8Array over ws's memory (no copy). Never a Node Buffer: the relay keeps
 * received frames and takes copies of parts of them with `.slice()`, which on a Buffer is a view —
 * the current picture would then alias the source's Pixels frame still queued for receivers, and
 * applying the next delta to the picture would change that queued frame too.
 */
function toBytes(data: RawData): Uint8Array {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A server-to-client WebSocket binary frame (FIN, opcode 2, unmasked) around `payload`, per
 * RFC 6455 §5.2. Built once per message and written to every receiver's socket.
 */
export function frameWebSocketBinary(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const out = new Uint8Array(head + n);
  out[0] = 0x82;
  if (head === 2) out[1] = n;
  else if (head === 4) {
    out[1] = 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    const v = new DataView(out.buffer);
    v.setUint32(2, Math.floor(n / 2 ** 32));
    v.setUint32(6, n >>> 0);
  }
  out.set(payload, head);
  return out;
}

/** How long a closed peer may take to complete the close handshake before it is cut off. */
export const CLOSE_WAIT_MS = 10_000;

class WsConnection implements PeerConnection {
  readonly remoteAddress: string;
  readonly acceptsFramed: boolean;
  readonly concatenable = true;
  private readonly tcp: Socket | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
  ) {
    this.remoteAddress = req.socket.remoteAddress ?? '';
    // ws keeps the net.Socket on a private field; it is the only way to cork writes and see 'drain'.
    this.tcp = (ws as unknown as { _socket?: Socket })._socket;
    this.acceptsFramed = this.tcp !== undefined;
    // Protocol violations surface as 'error' followed by 'close' (1002/1007/1009): never unhandled.
    ws.on('error', () => {});
    ws.once('close', () => clearTimeout(this.closeTimer));
  }
  writeFramed(bytes: Uint8Array): void {
    // ws writes each of its own frames whole and in order to this socket (no compression is
    // negotiated), so interleaving our pre-built frames with them keeps the stream valid.
    if (this.ws.readyState === this.ws.OPEN) this.tcp!.write(bytes);
  }
  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  send(data: Uint8Array): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data, { binary: true });
  }
  sendText(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text, { binary: false });
  }
  batch(fn: () => void): void {
    const tcp = this.tcp;
    if (tcp === undefined) return fn();
    tcp.cork();
    try {
      fn();
    } finally {
      tcp.uncork();
    }
  }
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, closeReason(reason));
    // A peer that never answers the close handshake must not hold the slot for long; one that is
    // merely slow (closed as TooSlow behind its queue) gets time to read the code and resume.
    this.closeTimer ??= setTimeout(() => this.ws.terminate(), CLOSE_WAIT_MS).unref();
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }
  setHandlers(h: PeerHandlers): void {
    this.ws.on('message', (data, isBinary) => h.message(toBytes(data), isBinary));
    this.ws.on('close', (code, reason) => h.close(code, reason.toString()));
    this.ws.on('pong', () => h.pong());
    this.tcp?.on('drain', () => h.drain());
  }
}

/** Starts node:http + ws on `host:port`; resolves once listening. */
export async function startWsHost(hooks: RelayHooks, host: string, port: number, maxPayload: number): Promise<RelayHost> {
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false });
  wss.on('error', () => {});
  const server = createServer((req, res) => void hooks.handleHttp(req, res));
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void (async () => {
      const d = await hooks.decideUpgrade(req.url ?? '/', req.headers, req.socket.remoteAddress ?? '');
      if (socket.destroyed) return;
      if (d.kind === 'unavailable') {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => hooks.openConnection(new WsConnection(ws, req), d));
    })().catch((e: unknown) => {
      hooks.internalError(e, 'upgrade');
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    frame: frameWebSocketBinary,
    get port() {
      return (server.address() as AddressInfo).port;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      wss.close();
      await closed;
    },
  };
}
