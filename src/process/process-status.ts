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
