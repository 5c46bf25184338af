/** Runs `native/load-generator.c` as a child process and drives it over its stdin/stdout. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Adapter } from './adapters.js';
import { messageArgs } from './adapters.js';

/** What the generator prints for `report`. */
export interface GeneratorReport {
  delivered: number;
  samples: number;
  p50: number;
  p99: number;
  cpuSeconds: number;
  busySeconds: number;
  connected: number;
  /** Index after the last message sent (saturation indexes start at 10,000,000). */
  sent: number;
  /** The receivers on `port`, then those on `port2` (empty without it). */
  groups: GroupReport[];
}

/** One receiver group's share of a report. */
export interface GroupReport {
  connected: number;
  delivered: number;
  samples: number;
  p50: number;
  p99: number;
}

export interface GeneratorOptions {
  binary: string;
  host: string;
  port: number;
  adapter: Adapter;
  receivers: number;
  spin?: boolean;
  /** A second node's port: the second half of the receivers connect there (the source stays on `port`). */
  port2?: number;
}

export function startGenerator(o: GeneratorOptions) {
  const a = o.adapter;
  const args = [o.host, String(o.port), a.receiverPath, String(o.receivers), a.sourcePath, ...a.args, ...messageArgs(a), ...(o.spin ? ['--spin'] : []), ...(o.port2 ? ['--port2', String(o.port2)] : [])];
  const child = spawn(o.binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  // Lines are kept until asked for, so none is lost to a late `next`.
  const lines: string[] = [];
  let wake = () => {};
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    wake();
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`load generator exited (${code})`))));
  void exited.catch(() => {});
  /** The rest of the next line that starts with `word`. */
  const next = async (word: string): Promise<string> => {
    for (;;) {
      const i = lines.findIndex((l) => l.split(' ', 1)[0] === word);
      if (i >= 0) return lines.splice(i, 1)[0]!.slice(word.length + 1);
      await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
    }
  };
  return {
    next,
    command: (line: string) => child.stdin.write(`${line}\n`),
    report: async (): Promise<GeneratorReport> => {
      const p = next('r');
      child.stdin.write('report\n');
      return JSON.parse(await p) as GeneratorReport;
    },
    kill: () => child.kill('SIGKILL'),
  };
}
