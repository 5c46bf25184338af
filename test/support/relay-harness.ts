/**
 * Test harness: a relay on an ephemeral port and a bare protocol client on a real WebSocket
 * (no SDK), so relay tests depend only on the wire protocol.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage, splitBatch } from '../../src/protocol/message.js';
import type { Message } from '../../src/protocol/message.js';
import { applyDiff } from '../../src/protocol/merge-patch.js';
import type { JsonObject } from '../../src/protocol/utf8.js';
import { startRelay } from '../../src/relay/server.js';
import type { Relay, RelayOptions } from '../../src/relay/server.js';

/** SLUICE_TEST_TRANSPORT=uws runs the relay tests on the uWebSockets.js transport. */
export const TEST_TRANSPORT = (process.env.SLUICE_TEST_TRANSPORT ?? 'ws') as 'ws' | 'uws';

/** pino's numeric levels: 50 = error, 60 = fatal. */
const PINO_ERROR = 50;

/** A relay started in-process by the tests, with the health guard attached. */
export type TestRelay = Relay & {
  /** Error/fatal log lines the relay wrote (pino JSON, one per entry). */
  readonly errorLogs: string[];
  /** Throws if the relay logged at error level or counted a contained internal error. */
  assertHealthy(): void;
};

/**
 * Starts a relay in this process. Unless the test passes its own `logger`, the relay logs
 * (level warn) into a recorder, and `close()` — which every test calls when it is done — throws
 * if anything was logged at error level or `totals.internalErrors` (when the relay has that
 * counter) is above zero: a test during which the relay hit an internal error fails.
 */
export async function startTestRelay(options: RelayOptions = {}): Promise<TestRelay> {
  const errorLogs: string[] = [];
  let logger = options.logger;
  if (logger === undefined) {
    let partial = '';
    const sink = new Writable({
      write(chunk: Buffer | string, _enc, done) {
        partial += chunk.toString();
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          if (pinoLevel(line) >= PINO_ERROR) errorLogs.push(line);
        }
        done();
      },
    });
    logger = pino({ level: 'warn' }, sink);
  }
  const relay = (await startRelay({ port: 0, host: '127.0.0.1', logLevel: 'silent', transport: TEST_TRANSPORT, ...options, logger })) as TestRelay;
  const assertHealthy = () => {
    const internal = internalErrors(relay);
    if (errorLogs.length > 0 || internal > 0) {
      throw new Error(`relay was unhealthy: ${errorLogs.length} error log(s), ${internal} internal error(s)\n${errorLogs.slice(0, 5).join('\n')}`);
    }
  };
  const close = relay.close.bind(relay);
  Object.defineProperties(relay, {
    errorLogs: { value: errorLogs },
    assertHealthy: { value: assertHealthy },
    close: {
      value: async (deadlineMs?: number) => {
        await close(deadlineMs);
        assertHealthy();
      },
    },
  });
  return relay;
}

/** `relay.totals.internalErrors` when the relay has that counter (contained per-peer failures), else 0. */
export function internalErrors(relay: Relay): number {
  return Number((relay.totals as unknown as { internalErrors?: number }).internalErrors ?? 0);
}

/** The numeric pino level of a JSON log line; 0 for anything else. */
export function pinoLevel(line: string): number {
  if (!line.startsWith('{')) return 0;
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level;
    return typeof level === 'number' ? level : 0;
  } catch {
    return 0;
  }
}

/** Why a relay's stderr shows it failed: pino error/fatal lines and uncaught-exception traces. */
export function stderrProblems(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (pinoLevel(line) >= PINO_ERROR) out.push(line);
    else if (/Uncaught|uncaughtException|unhandledRejection|Unhandled 'error' event/.test(line)) out.push(line);
  }
  return out;
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
            parts = splitBatch(bytes.subarray(16), { maxPayload: 64 * 1024 * 1024, maxJsonPayload: 64 * 1024 * 1024 });
          } catch {
            parts = [bytes];
          }
        }
        for (const part of parts) {
          let message: Message | undefined;
          try {
            message = decodeMessage(part, { maxPayload: 64 * 1024 * 1024, maxJsonPayload: 64 * 1024 * 1024 });
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

/** A `sluice relay` child process (see {@link spawnRelay}). */
export interface SpawnedRelay {
  child: ChildProcess;
  pid: number;
  url: string;
  http: string;
  /** Everything the child wrote on stderr so far. */
  stderr: () => string;
  /** Set once the child exited: its code or signal. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the child exits. */
  exited: Promise<void>;
  /**
   * Throws if the child exited without being asked to (kill()/stop()), or its stderr has a pino
   * error/fatal line (level >= 50) or an uncaught exception.
   */
  assertHealthy(): void;
  /** Kills the child (SIGKILL by default); an exit after this is expected. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops it with SIGTERM (graceful drain) and waits for the exit. */
  stop(): Promise<void>;
}

/** Runs `sluice relay` as a child process on an ephemeral port; resolves with its URL. */
export async function spawnRelay(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay> {
  const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', bin, 'relay', '--port', '0', '--host', '127.0.0.1', '--transport', TEST_TRANSPORT, ...args], {
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env },
    // SLUICE_CLUSTER_LOG (a log level, for debugging cluster tests): the relay's log (stdout) is
    // kept with its stderr, so a failing test can print it.
    stdio: ['ignore', process.env.SLUICE_CLUSTER_LOG ? 'pipe' : 'ignore', 'pipe'],
  });
  let err = '';
  let killed = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    err += chunk;
  });
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    err += chunk;
  });
  const relay: SpawnedRelay = {
    child,
    pid: child.pid ?? 0,
    url: '',
    http: '',
    stderr: () => err,
    exit: undefined,
    exited: new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        relay.exit = { code, signal };
        resolve();
      }),
    ),
    assertHealthy() {
      const problems: string[] = [];
      if (relay.exit && !killed) problems.push(`relay exited unexpectedly (code ${relay.exit.code}, signal ${relay.exit.signal})`);
      problems.push(...stderrProblems(err));
      if (problems.length > 0) throw new Error(`relay was unhealthy:\n${problems.slice(0, 8).join('\n')}\n--- stderr (tail) ---\n${err.slice(-4000)}`);
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      killed = true;
      if (relay.exit === undefined) child.kill(signal);
    },
    async stop() {
      relay.kill('SIGTERM');
      await relay.exited;
    },
  };
  relay.url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${err}`)), 15_000);
    const onData = () => {
      const m = /listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}: ${err}`));
    });
  });
  relay.http = relay.url.replace('ws://', 'http://');
  return relay;
}

/** The part of node:test's TestContext the guard needs. */
interface AfterHook {
  after(fn: () => unknown): void;
}

/**
 * {@link spawnRelay}, with the health check and the kill registered in `t.after`: the test fails
 * if the relay crashed or logged an error/uncaught exception at any point while it ran.
 */
export async function spawnGuardedRelay(t: AfterHook, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay> {
  const relay = await spawnRelay(args, env);
  t.after(() => {
    try {
      relay.assertHealthy();
    } finally {
      relay.kill();
    }
  });
  return relay;
}
