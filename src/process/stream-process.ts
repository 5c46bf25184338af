/**
 * Runs a command and streams its life to channel `process:{id}`: every stdout and stderr line
 * (as log records tagged with the stream and a timestamp, in order, whole lines), and each
 * status change — running, exited with code, killed by signal, failed to start — both as a
 * `status` log record and in the channel's state. Records produced while the relay is away are
 * kept and sent on reconnect; with the SDK's acknowledged log (see log-delivery.ts) records in
 * flight when a connection drops are resent too, and `done` resolves only once the relay has
 * confirmed every record.
 */
import { spawn } from 'node:child_process';
import { SluiceError } from '../protocol/errors.js';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { source } from '../client/source.js';
import type { Source } from '../client/source.js';
import type { ConnectionOptions } from '../client/connection.js';
import type { LogStreamName } from '../protocol/control.js';
import { utf8Encode } from '../protocol/utf8.js';
import { LineChunker } from './line-chunker.js';
import { logDelivery } from './log-delivery.js';
import type { DeliveryResult } from './log-delivery.js';
import { exitCodeOf } from './process-status.js';
import type { ProcessStatus } from './process-status.js';

export interface StreamProcessOptions extends ConnectionOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Also write the child's output to this process's stdout/stderr. Default false. */
  mirror?: boolean;
  /** Extra spawn options (stdio is always piped). */
  spawn?: Omit<SpawnOptions, 'stdio' | 'cwd' | 'env'>;
  /** How long `done` waits, after the child ended, for the relay to confirm every record (ms). Default 10000. */
  drainTimeoutMs?: number;
}

export interface ProcessState {
  id: string;
  command: string;
  args: string[];
  status: ProcessStatus['status'];
  exitCode: number | null;
  signal: string | null;
  pid: number | null;
  startedAt: number;
  endedAt: number | null;
  lines: { stdout: number; stderr: number };
}

export interface StreamedProcess {
  readonly channel: string;
  readonly child: ChildProcess;
  readonly source: Source<ProcessState>;
  /**
   * Resolves with the final status once the child ended and the relay confirmed every record
   * (with the SDK's acknowledged log; before it: once every record was written to a socket).
   * Rejects with a `ProcessDeliveryError` (which carries the final status) when that did not
   * happen within `drainTimeoutMs`, or when streaming was stopped with `detach()`.
   */
  readonly done: Promise<ProcessStatus>;
  /** True when the relay acknowledges records (see log-delivery.ts). */
  readonly acknowledged: boolean;
  /** Sends a signal to the child. */
  kill(signal?: NodeJS.Signals): boolean;
  /** Stops streaming (the child keeps running): closes the connection; `done` then rejects with `reason`. */
  detach(reason: string): void;
}

/** The child ended, but not every record is known to have reached the relay. */
export class ProcessDeliveryError extends SluiceError {
  constructor(
    /** How the child ended. */
    readonly status: ProcessStatus,
    readonly reason: string,
  ) {
    super('process/undelivered', `process ${status.status}${status.exitCode !== null ? ` (${status.exitCode})` : ''}, but its output was not all delivered: ${reason}`);
    this.name = 'ProcessDeliveryError';
  }
}

/** Streams `command args` to `process:{id}` on the relay at `relayUrl` (e.g. ws://localhost:9100). */
export function streamProcess(relayUrl: string, id: string, command: string, args: string[] = [], options: StreamProcessOptions = {}): StreamedProcess {
  const channel = `process:${id}`;
  const src = source<ProcessState>(`${relayUrl.replace(/\/$/, '')}/source/${encodeURIComponent(channel)}`, {
    ...options,
    initial: { id, command, args, status: 'starting', exitCode: null, signal: null, pid: null, startedAt: Date.now(), endedAt: null, lines: { stdout: 0, stderr: 0 } },
  });

  const delivery = logDelivery(src);
  let detached: string | undefined;
  let onDetach!: (r: DeliveryResult) => void;
  const stopped = new Promise<DeliveryResult>((resolve) => (onDetach = resolve));
  const record = (stream: LogStreamName, data: Uint8Array) => {
    if (detached === undefined) delivery.write(stream, data);
  };
  const setStatus = (s: ProcessStatus) => {
    record('status', utf8Encode(JSON.stringify(s)));
    src.set({ status: s.status, exitCode: s.exitCode, signal: s.signal ?? null, pid: s.pid ?? src.get().pid, ...(s.status === 'running' ? {} : { endedAt: Date.now() }) });
  };

  const child = spawn(command, args, { ...options.spawn, cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunkers = { stdout: new LineChunker(), stderr: new LineChunker() };
  let failed: ProcessStatus | undefined;
  let finalStatus!: (s: ProcessStatus) => void;
  const ended = new Promise<ProcessStatus>((resolve) => (finalStatus = resolve));

  child.once('spawn', () => setStatus({ status: 'running', exitCode: null, pid: child.pid! }));
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (chunk: Buffer) => {
      if (options.mirror) (stream === 'stdout' ? process.stdout : process.stderr).write(chunk);
      const payloads = chunkers[stream].push(chunk);
      for (const p of payloads) record(stream, p);
      if (payloads.length) src.state.lines[stream] += payloads.reduce((n, p) => n + countLines(p), 0);
    });
  }
  child.once('error', (err) => {
    // Failed to start (ENOENT, EACCES…): 'close' may follow, but the status is decided here.
    failed = { status: 'failed', exitCode: 127, error: err.message };
    setStatus(failed);
    finalStatus(failed);
  });
  child.once('close', (code, signal) => {
    if (failed) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = chunkers[stream].flush();
      if (rest) record(stream, rest);
    }
    const s: ProcessStatus = signal
      ? { status: 'killed', exitCode: exitCodeOf(code, signal), signal, pid: child.pid! }
      : { status: 'exited', exitCode: code ?? 0, pid: child.pid! };
    setStatus(s);
    finalStatus(s);
  });

  const done = ended.then(async (s) => {
    if (detached !== undefined) throw new ProcessDeliveryError(s, detached);
    const r = await Promise.race([delivery.settled(options.drainTimeoutMs ?? 10_000), stopped]);
    if (detached !== undefined) throw new ProcessDeliveryError(s, detached);
    if (!r.ok) {
      void src.close(); // no more waiting: `done` reports now what could not be confirmed
      throw new ProcessDeliveryError(s, r.reason);
    }
    await src.close();
    return s;
  });
  // A caller that ignores `done` must not get an unhandled rejection; one that awaits it still sees it.
  done.catch(() => {});
  const detach = (reason: string) => {
    if (detached !== undefined) return;
    detached = reason;
    onDetach({ ok: false, reason });
    void src.close();
  };
  return { channel, child, source: src, done, acknowledged: delivery.acknowledged, kill: (sig = 'SIGTERM') => child.kill(sig), detach };
}

function countLines(p: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === 0x0a) n++;
  return n;
}
