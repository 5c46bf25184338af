/**
 * Test harness: a relay on an ephemeral port and a bare protocol client on a real WebSocket
 * (no SDK), so relay tests depend only on the wire protocol.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage, splitBatch } from '../../src/protocol/message.js';
import type { Message } from '../../src/protocol/message.js';
import { applyDiff } from '../../src/protocol/merge-patch.js';
import type { JsonObject } from '../../src/protocol/utf8.js';
import { startRelay } from '../../src/relay/server.js';
import type { Relay, RelayOptions } from '../../src/relay/server.js';

/** SLUICE_TEST_TRANSPORT=uws runs the relay tests on the uWebSockets.js transport. */
export const TEST_TRANSPORT = (process.env.SLUICE_TEST_TRANSPORT ?? 'ws') as 'ws' | 'uws';

export async function startTestRelay(options: RelayOptions = {}): Promise<Relay> {
  return startRelay({ port: 0, host: '127.0.0.1', logLevel: 'silent', transport: TEST_TRANSPORT, ...options });
}

export interface Received {
  bytes: Uint8Array;
  message: Message | undefined;
  at: number;
}

/** A protocol-level client: sends and receives raw Sluice frames, remembers everything. */
export class TestPeer {
  readonly received: Received[] = [];
  readonly texts: string[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];
  /** Applied state from syncs and diffs, like a minimal receiver. */
  state: JsonObject = {};
  /** Batch messages received (each unpacked into `received`). */
  batches = 0;
  /** WebSocket messages received. */
  wsMessages = 0;

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary) => {
      this.wsMessages++;
      if (!isBinary) {
        this.texts.push(data.toString());
      } else {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
        // A Batch (relay → receivers with ?batch=1) is unpacked: its messages count one by one.
        let parts: Uint8Array[] = [bytes];
        if (bytes[0] === 0xa9 && bytes.length > 16) {
          this.batches++;
          try {
            parts = splitBatch(bytes.subarray(16), { maxPayload: 64 * 1024 * 1024 });
          } catch {
            parts = [bytes];
          }
        }
        for (const part of parts) {
          let message: Message | undefined;
          try {
            message = decodeMessage(part, { maxPayload: 64 * 1024 * 1024 });
          } catch {
            message = undefined;
          }
          if (message?.kind === 'signal-sync') this.state = message.state;
          if (message?.kind === 'signal-diff') this.state = applyDiff(this.state, message.diff);
          this.received.push({ bytes: part, message, at: performance.now() });
        }
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve(code);
      });
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, options?: WebSocket.ClientOptions): Promise<TestPeer> {
    const ws = new WebSocket(url, options);
    const peer = new TestPeer(ws);
    await Promise.race([once(ws, 'open'), peer.closed]);
    return peer;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(m: Message): void {
    this.ws.send(encodeMessage(m));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  messages(kind?: Message['kind']): Message[] {
    return this.received.map((r) => r.message).filter((m): m is Message => m !== undefined && (kind === undefined || m.kind === kind));
  }

  /** Waits until `predicate` holds (checked after each event), or throws after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the next message of `kind` after `from` messages received so far; returns it. */
  async next<K extends Message['kind']>(kind: K, timeoutMs = 5000): Promise<Extract<Message, { kind: K }>> {
    let found: Message | undefined;
    let seen = 0;
    await this.until(
      () => {
        for (; seen < this.received.length; seen++) {
          const m = this.received[seen]!.message;
          if (m?.kind === kind && !this.consumed.has(seen)) {
            this.consumed.add(seen);
            found = m;
            return true;
          }
        }
        return false;
      },
      timeoutMs,
      `a ${kind} frame`,
    );
    return found as Extract<Message, { kind: K }>;
  }
  private readonly consumed = new Set<number>();

  async waitClose(timeoutMs = 5000): Promise<number> {
    await this.until(() => this.closeCode !== undefined, timeoutMs, 'close');
    return this.closeCode!;
  }

  close(): void {
    this.ws.close();
  }

  /** Stops reading from the socket (TCP backpressure builds up at the relay). */
  pauseReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  resumeReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.resume();
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `sluice relay` as a child process on an ephemeral port; resolves with its URL. */
export async function spawnRelay(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; http: string; stderr: () => string }> {
  const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', bin, 'relay', '--port', '0', '--host', '127.0.0.1', '--transport', TEST_TRANSPORT, ...args], {
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${err}`)), 15_000);
    child.stderr!.on('data', (chunk: string) => {
      err += chunk;
      const m = /listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`relay exited with ${code}: ${err}`)));
  });
  return { child, url, http: url.replace('ws://', 'http://'), stderr: () => err };
}
