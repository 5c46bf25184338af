/**
 * A scripted relay for SDK tests: a real WebSocket server on 127.0.0.1 (ephemeral port) whose
 * replies each test writes by hand. Used where the behaviour under test is the SDK's answer to
 * frames of this protocol wave (epochs, LogAck, RpcResult errors) or to a relay misbehaving in a
 * precise way (refusing right after the handshake); everything else runs against the real relay.
 */
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { encodeFrame } from '../../src/protocol/header.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import type { Message } from '../../src/protocol/message.js';
import { until } from '../support/wait.js';

export class FakeConn {
  readonly received: Uint8Array[] = [];
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly url: string,
  ) {
    ws.on('message', (data: Buffer) => this.received.push(new Uint8Array(data.buffer, data.byteOffset, data.length)));
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => {});
  }
  get query(): URLSearchParams {
    return new URL(this.url, 'http://x').searchParams;
  }
  messages(kind?: Message['kind']): Message[] {
    const out: Message[] = [];
    for (const b of this.received) {
      try {
        const m = decodeMessage(b);
        if (kind === undefined || m.kind === kind) out.push(m);
      } catch {
        // not a frame this codec knows
      }
    }
    return out;
  }
  send(m: Message | Uint8Array): void {
    this.ws.send(m instanceof Uint8Array ? m : encodeMessage(m));
  }
  welcome(role: 'source' | 'receiver', extra: Record<string, unknown> = {}): void {
    const json = JSON.stringify({ id: 7, channel: 'c', role, heartbeatMs: 5000, maxPayload: 1 << 20, server: 'fake', ...extra });
    this.send(encodeFrame({ type: 0xa1 }, new TextEncoder().encode(json)));
  }
  logAck(seq: number): void {
    const p = new Uint8Array(8);
    new DataView(p.buffer).setUint32(0, seq, true);
    this.send(encodeFrame({ type: 0xaa }, p));
  }
  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }
}

export class FakeRelay {
  readonly conns: FakeConn[] = [];
  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
    onConnection: (c: FakeConn, index: number) => void,
  ) {
    wss.on('connection', (ws, req) => {
      const c = new FakeConn(ws, req.url ?? '/');
      this.conns.push(c);
      onConnection(c, this.conns.length - 1);
    });
  }

  static async start(onConnection: (c: FakeConn, index: number) => void = () => {}): Promise<FakeRelay> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.on('listening', () => resolve()));
    const port = (wss.address() as { port: number }).port;
    return new FakeRelay(wss, `ws://127.0.0.1:${port}`, onConnection);
  }

  async connection(index: number, timeoutMs = 5000): Promise<FakeConn> {
    await until(() => this.conns.length > index, timeoutMs, `connection #${index}`);
    return this.conns[index]!;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
