/** The life of a streamed process, as carried in `status` log records and the channel state. */
import { constants } from 'node:os';

export type ProcessStatusName = 'starting' | 'running' | 'exited' | 'killed' | 'failed';

export interface ProcessStatus {
  status: ProcessStatusName;
  /** Exit code; for `killed`, 128 + the signal number (as shells report it); for `failed`, 127. */
  exitCode: number | null;
  signal?: string;
  pid?: number;
  error?: string;
}

/** The exit code a shell would report for a child that ended with `code` or `signal`. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? 0;
}

/** True for the statuses after which nothing more will happen. */
export function isFinal(status: ProcessStatusName): boolean {
  return status === 'exited' || status === 'killed' || status === 'failed';
}

/** A `status` log record as read back by a follower: the status, or why it could not be read. */
export type StatusRecord = { ok: true; status: string; exitCode: number | null; signal?: string; error?: string; final: boolean } | { ok: false; problem: string };

/**
 * Reads a `status` record's text. Anything a peer could have sent is handled: bad JSON, `null`,
 * arrays, a missing or non-string `status`, an exit code that is not an integer in 0–255.
 */
export function readStatusRecord(text: string): StatusRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: `status record is not JSON: ${preview(text)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: `status record is not a JSON object: ${preview(text)}` };
  const o = value as Record<string, unknown>;
  if (typeof o.status !== 'string') return { ok: false, problem: `status record has no "status" string: ${preview(text)}` };
  const code = o.exitCode;
  const exitCode = typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255 ? code : null;
  const final = o.status === 'exited' || o.status === 'killed' || o.status === 'failed';
  return {
    ok: true,
    status: o.status,
    exitCode,
    ...(typeof o.signal === 'string' ? { signal: o.signal } : {}),
    ...(typeof o.error === 'string' ? { error: o.error } : {}),
    final,
  };
}

/** The exit code a follower reports for a final status: its code, else 1 (unknown, or not a valid code). */
export function followerExitCode(s: { status: string; exitCode: number | null }): number {
  return s.exitCode ?? 1;
}

/** `[exited 3]`, `[killed 143 SIGTERM]`, `[failed 127 spawn x ENOENT]` — a status for people. */
export function formatStatus(s: { status: string; exitCode: number | null; signal?: string; error?: string }): string {
  return `[${s.status}${s.exitCode !== null ? ` ${s.exitCode}` : ''}${s.signal ? ` ${s.signal}` : ''}${s.error ? ` ${s.error}` : ''}]`;
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine || '(empty)';
}
