/** Compiles `native/load-generator.c` with the system's C compiler into a fresh temporary folder. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GENERATOR_SOURCE = fileURLToPath(new URL('./native/load-generator.c', import.meta.url));

export function buildGenerator(): string {
  // A generator compiled elsewhere (a machine without a C compiler).
  if (process.env.BENCH_GENERATOR) return process.env.BENCH_GENERATOR;
  const out = join(mkdtempSync(join(tmpdir(), 'sluice-bench-')), 'load-generator');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', out, GENERATOR_SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    throw new Error('the fan-out load generator needs a C compiler (apt-get install gcc)');
  }
  return out;
}
