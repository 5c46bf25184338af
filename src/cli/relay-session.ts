/**
 * A one-shot receiver connection for commands that talk to a channel's source (`send`, `call`):
 * the relay's Welcome and the source's status, Error frames, RPC results, and a barrier that
 * tells when the relay has dealt with everything sent so far.
 *
 * It is built on the SDK's bare `Connection` (no reconnect), because these commands need what a
 * view hides: when the relay has processed an input (the relay answers pings at once, while an
 * Error about an input leaves with its next flush — so two ping round trips after the input
 * mean any Error about it has arrived).
 */
import { Connection } from '../client/connection.js';
import type { RpcResultInfo, WelcomeInfo } from '../protocol/control.js';
import { FrameType } from '../protocol/frame-codes.js';
import { encodeFrame } from '../protocol/header.js';
import { decodeMessage, encodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import type { ErrorInfo } from '../protocol/control.js';
import type { JsonValue } from '../protocol/utf8.js';
import { describeRefusal, firstContact, onFatal } from './relay-link.js';

export class RelaySession {
  readonly conn: Connection;
  welcome: WelcomeInfo | undefined;
  /** The source's status, once the relay sent it (right after the Welcome). */
  sourceOnline: boolean | undefined;
  /** Error frames the relay sent after the Welcome. */
  readonly errors: ErrorInfo[] = [];
  private pingsSent = 0;
  private pongs = 0;
  private waiters: Array<() => void> = [];
  private readonly results = new Map<string | number, (r: RpcResultInfo) => void>();
  private fatal: string | undefined;

  constructor(
    private readonly url: string,
    token: string | undefined,
  ) {
    // Pings only when asked (plus the one the connection sends as it opens).
    this.conn = new Connection(url, { pingIntervalMs: 3_600_000, ...(token ? { token } : {}) });
    this.conn.on('open', () => this.pingsSent++);
    this.conn.on('latency', () => {
      this.pongs++;
      this.wake();
    });
    this.conn.on('message', (bytes) => this.onMessage(bytes));
    this.conn.on('close', (code, reason) => {
      // Once connected, a one-shot command does not wait for a reconnect.
      if (this.fatal === undefined && code !== 1000) this.fatal = code === 1006 ? 'the connection to the relay was lost' : describeRefusal({ closeCode: code, reason });
      this.wake();
    });
    onFatal(this.conn, (reason) => {
      this.fatal = reason;
      this.wake();
    });
  }

  /** Connects; resolves once the relay sent the Welcome and the source's status, or throws the reason. */
  async open(timeoutMs: number): Promise<void> {
    this.conn.start();
    const started = Date.now();
    const contact = await firstContact(this.conn, this.url, timeoutMs);
    if (!contact.ok) throw new Error(contact.reason);
    await this.until(() => this.sourceOnline !== undefined, Math.max(0, timeoutMs - (Date.now() - started)), 'the relay did not welcome us');
  }

  send(m: Message): boolean {
    return this.conn.send(encodeMessage(m));
  }

  /** Resolves once the relay has handled everything sent before this call (see the module comment). */
  async barrier(timeoutMs: number): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const want = ++this.pingsSent;
      this.conn.send(encodeFrame({ type: FrameType.Ping, seq: want & 0xffff, timestamp: Date.now() >>> 0 }));
      await this.until(() => this.pongs >= want, timeoutMs, 'the relay stopped answering');
    }
  }

  /** Calls `method` on the channel's source; resolves with the RpcResult (which may carry an error). */
  async call(method: string, params: JsonValue | undefined, timeoutMs: number): Promise<RpcResultInfo> {
    const id = 1;
    let result: RpcResultInfo | undefined;
    this.results.set(id, (r) => (result = r));
    // `timeoutMs` tells the source when the caller gives up (ignored by sources that predate it).
    const call = { id, method, ...(params === undefined ? {} : { params }), timeoutMs };
    const errorsBefore = this.errors.length;
    this.send({ kind: 'rpc-call', call });
    await this.until(() => result !== undefined || this.errors.length > errorsBefore, timeoutMs, `no answer to ${method} within ${timeoutMs} ms`);
    if (result) return result;
    // A relay that cannot route the call (no source) answers with an Error frame instead.
    const e = this.errors[errorsBefore]!;
    return { id, error: { code: e.code === 4404 ? 'no-source' : e.name, message: e.message } };
  }

  close(): Promise<void> {
    return this.conn.close(1000);
  }

  private onMessage(bytes: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(bytes, { maxPayload: 1 << 30 });
    } catch {
      return; // frames this command does not need to read
    }
    if (m.kind === 'welcome') this.welcome = m.welcome;
    else if (m.kind === 'source-status') this.sourceOnline = m.status.online;
    else if (m.kind === 'error') {
      if (this.welcome === undefined) this.fatal ??= describeRefusal({ closeCode: m.error.code, reason: m.error.message });
      else this.errors.push(m.error);
    } else if (m.kind === 'rpc-result') this.results.get(m.result.id)?.(m.result);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until(pred: () => boolean, timeoutMs: number, why: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.fatal !== undefined) throw new Error(this.fatal);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(why);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
