/** Structured logs (pino). Quiet under test: the test runner sets SLUICE_LOG_LEVEL=silent. */
import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ name: 'sluice', level, base: { pid: process.pid } });
}
