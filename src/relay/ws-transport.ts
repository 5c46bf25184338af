/** Transport on the `ws` library. */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { PeerConnection, PeerHandlers, Transport } from './transport.js';

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
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

class WsConnection implements PeerConnection {
  readonly remoteAddress: string;
  readonly acceptsFramed: boolean;
  readonly concatenable = true;
  private readonly tcp: Socket | undefined;
  constructor(private readonly ws: WebSocket, req: IncomingMessage) {
    this.remoteAddress = req.socket.remoteAddress ?? '';
    // ws keeps the net.Socket on a private field; it is the only way to cork writes and see 'drain'.
    this.tcp = (ws as unknown as { _socket?: Socket })._socket;
    this.acceptsFramed = this.tcp !== undefined;
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
    // Reasons are limited to 123 bytes by the WebSocket protocol.
    const r = Buffer.from(reason).subarray(0, 123).toString();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, r);
    // A peer that never answers the close handshake must not hold the slot.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }
  setHandlers(h: PeerHandlers): void {
    this.ws.on('message', (data, isBinary) => h.message(toBytes(data), isBinary));
    this.ws.on('close', (code, reason) => h.close(code, reason.toString()));
    this.ws.on('pong', () => h.pong());
    this.ws.on('error', () => {
      /* 'close' follows; errors such as 1009 are reported there */
    });
    this.tcp?.on('drain', () => h.drain());
  }
}

export function createWsTransport(options: { maxPayload: number }): Transport {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false, clientTracking: false });
  return {
    frame: frameWebSocketBinary,
    upgrade(req, socket: Duplex, head, done) {
      wss.handleUpgrade(req, socket, head, (ws) => done(new WsConnection(ws, req)));
    },
    close() {
      wss.close();
    },
  };
}
