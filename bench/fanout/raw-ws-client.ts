/**
 * A minimal WebSocket client for load generation: manual upgrade handshake over net.Socket, a
 * frame parser that hands each message's payload as a view (copying only frames split across
 * reads), and masked sends with a zero key. No per-message allocations on the hot path, so one
 * core can absorb millions of messages per second.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export type FrameHandler = (opcode: number, payload: Uint8Array) => void;

export class RawWsClient {
  private leftover: Uint8Array | undefined;
  private partial: { opcode: number; buf: Uint8Array; filled: number } | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly onFrame: FrameHandler,
  ) {}

  static open(host: string, port: number, path: string, onFrame: FrameHandler): Promise<RawWsClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      const client = new RawWsClient(socket, onFrame);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${status}`));
          return;
        }
        socket.on('data', (c: Buffer) => client.parse(c));
        const rest = head.subarray(end + 4);
        if (rest.length) client.parse(rest);
        resolve(client);
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  private parse(chunk: Uint8Array): void {
    let buf = chunk;
    let i = 0;
    if (this.partial) {
      const p = this.partial;
      const take = Math.min(p.buf.length - p.filled, buf.length);
      p.buf.set(buf.subarray(0, take), p.filled);
      p.filled += take;
      i = take;
      if (p.filled < p.buf.length) return;
      this.partial = undefined;
      this.frame(p.opcode, p.buf);
    } else if (this.leftover) {
      const joined = new Uint8Array(this.leftover.length + buf.length);
      joined.set(this.leftover);
      joined.set(buf, this.leftover.length);
      buf = joined;
      this.leftover = undefined;
    }
    const n = buf.length;
    while (i < n) {
      if (n - i < 2) {
        this.leftover = buf.slice(i);
        return;
      }
      const b0 = buf[i]!;
      const b1 = buf[i + 1]!;
      let len = b1 & 0x7f;
      let h = 2;
      if (len === 126) {
        if (n - i < 4) {
          this.leftover = buf.slice(i);
          return;
        }
        len = (buf[i + 2]! << 8) | buf[i + 3]!;
        h = 4;
      } else if (len === 127) {
        if (n - i < 10) {
          this.leftover = buf.slice(i);
          return;
        }
        len = buf[i + 6]! * 2 ** 24 + (buf[i + 7]! << 16) + (buf[i + 8]! << 8) + buf[i + 9]!;
        h = 10;
      }
      if (b1 & 0x80) h += 4; // servers do not mask, but be tolerant
      if (n - i < h) {
        this.leftover = buf.slice(i);
        return;
      }
      const start = i + h;
      const opcode = b0 & 0x0f;
      if (n - start < len) {
        const p = new Uint8Array(len);
        p.set(buf.subarray(start));
        this.partial = { opcode, buf: p, filled: n - start };
        return;
      }
      this.frame(opcode, buf.subarray(start, start + len));
      i = start + len;
    }
  }

  private frame(opcode: number, payload: Uint8Array): void {
    if (opcode === 0x9) this.sendFrame(0xa, payload); // ping → pong
    else if (opcode !== 0xa && opcode !== 0x8) this.onFrame(opcode, payload);
  }

  /** Sends one masked frame (mask key 0, so the payload goes as is). */
  sendFrame(opcode: number, payload: Uint8Array): boolean {
    const n = payload.length;
    const h = n < 126 ? 6 : n < 0x10000 ? 8 : 14;
    const out = Buffer.allocUnsafe(h + n);
    out[0] = 0x80 | opcode;
    if (n < 126) out[1] = 0x80 | n;
    else if (n < 0x10000) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(n, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeUInt32BE(0, 2);
      out.writeUInt32BE(n, 6);
    }
    out.writeUInt32BE(0, h - 4);
    out.set(payload, h);
    return this.socket.write(out);
  }

  sendText(text: string): boolean {
    return this.sendFrame(0x1, Buffer.from(text));
  }

  sendBinary(bytes: Uint8Array): boolean {
    return this.sendFrame(0x2, bytes);
  }

  get buffered(): number {
    return this.socket.writableLength;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }
}
