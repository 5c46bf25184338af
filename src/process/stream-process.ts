/**
 * Runs a command and streams its life to channel `process:{id}`: every stdout and stderr line
 * (as log records tagged with the stream and a timestamp, in order, whole lines), and each
 * status change — running, exited with code, killed by signal, failed to start — both as a
 * `status` log record and in the channel's state. Records produced while the relay is away are
 * kept and sent on reconnect.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { source } from '../client/source.js';
import type { Source } from '../client/source.js';
import type { ConnectionOptions } from '../client/connection.js';
import type { LogStreamName } from '../protocol/control.js';
import { encodeMessage } from '../protocol/message.js';
import { utf8Encode } from '../protocol/utf8.js';
import { LineChunker } from './line-chunker.js';
import { exitCodeOf } from './process-status.js';
import type { ProcessStatus } from './process-status.js';

export interface StreamProcessOptions extends ConnectionOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Also write the child's output to this process's stdout/stderr. Default false. */
  mirror?: boolean;
  /** Extra spawn options (stdio is always piped). */
  spawn?: Omit<SpawnOptions, 'stdio' | 'cwd' | 'env'>;
  /** How long `done` waits for unsent records after the child ended (ms). Default 10000. */
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
  /** Resolves with the final status once the child ended and every record left for the relay. */
  readonly done: Promise<ProcessStatus>;
  /** Sends a signal to the child. */
  kill(signal?: NodeJS.Signals): boolean;
}

/** Streams `command args` to `process:{id}` on the relay at `relayUrl` (e.g. ws://localhost:9100). */
export function streamProcess(relayUrl: string, id: string, command: string, args: string[] = [], options: StreamProcessOptions = {}): StreamedProcess {
  const channel = `process:${id}`;
  const src = source<ProcessState>(`${relayUrl.replace(/\/$/, '')}/source/${encodeURIComponent(channel)}`, {
    ...options,
    initial: { id, command, args, status: 'starting', exitCode: null, signal: null, pid: null, startedAt: Date.now(), endedAt: null, lines: { stdout: 0, stderr: 0 } },
  });

  // Records wait here until sent; on reconnect the backlog goes first, in order.
  const backlog: Uint8Array[] = [];
  const send = (frame: Uint8Array) => {
    if (backlog.length === 0 && src.publishFrame(frame)) return;
    backlog.push(frame);
  };
  const drainBacklog = () => {
    while (backlog.length > 0 && src.publishFrame(backlog[0]!)) backlog.shift();
  };
  src.on('open', drainBacklog);

  const record = (stream: LogStreamName, data: Uint8Array) =>
    send(encodeMessage({ kind: 'log-record', offset: 0, time: Date.now(), stream, data, timestamp: Date.now() >>> 0 }));
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
    const deadline = Date.now() + (options.drainTimeoutMs ?? 10_000);
    while (backlog.length > 0 && Date.now() < deadline) {
      drainBacklog();
      await new Promise((r) => setTimeout(r, 20));
    }
    await src.close();
    return s;
  });
  return { channel, child, source: src, done, kill: (sig = 'SIGTERM') => child.kill(sig) };
}

function countLines(p: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === 0x0a) n++;
  return n;
}
