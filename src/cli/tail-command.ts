/**
 * `sluice tail <channel>`: prints a log channel's history, then live records — stdout records
 * to stdout, stderr to stderr, verbatim — and, for a process, exits with its exit code.
 */
import type { Command } from 'commander';
import { subscribe } from '../client/stream-view.js';
import type { LogRecordEvent } from '../client/stream-view.js';
import { addClientOptions, channelUrl, onStdoutClosed, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';

export function addTailCommand(program: Command): void {
  const cmd = program
    .command('tail')
    .description("print a log channel's history then live records (stdout to stdout, stderr to stderr); for a process, exit with its exit code")
    .argument('<channel>', 'e.g. process:build-1')
    .option('--from <offset>', 'start at this record offset instead of the oldest retained one')
    .option('--no-follow', 'print the retained history and exit')
    .option('--status', 'also print status changes to stderr');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice tail process:build-1
  $ sluice tail process:build-1 --from 1200     # resume exactly after record 1199
  $ sluice tail logs:api --no-follow | grep ERROR`,
  );
  cmd.action(async (channel: string, flags: ClientFlags & { from?: string; follow: boolean; status?: boolean }) => {
    const from = flags.from === undefined ? undefined : Number(flags.from);
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) throw new Error('--from takes a non-negative integer offset');
    const tok = token(flags);
    const view = subscribe(channelUrl(flags, 'stream', channel), { ...(from !== undefined ? { resumeFrom: from } : {}), ...(tok ? { token: tok } : {}) });
    onStdoutClosed(() => process.exit(0));

    // Records are written in batches per tick: far fewer syscalls than one write per line.
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    let scheduled = false;
    let exitCode: number | undefined;
    const flush = () => {
      scheduled = false;
      const tasks: Promise<void>[] = [];
      if (out.length) tasks.push(write(process.stdout, Buffer.concat(out.splice(0))));
      if (err.length) tasks.push(write(process.stderr, Buffer.concat(err.splice(0))));
      if (exitCode !== undefined) {
        const code = exitCode;
        void Promise.all(tasks).then(() => process.exit(code));
      }
    };
    const schedule = () => {
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
    let historyEnd: number | undefined;
    view.on('welcome', (w) => (historyEnd ??= w.logNext));
    view.on('log', (r: LogRecordEvent) => {
      if (r.stream === 'stdout') out.push(r.data);
      else if (r.stream === 'stderr') err.push(r.data);
      else if (r.stream === 'status') {
        let s: { status?: string; exitCode?: number | null; signal?: string } = {};
        try {
          s = JSON.parse(r.text) as typeof s;
        } catch {
          /* not a status we understand */
        }
        if (flags.status) err.push(Buffer.from(`[${s.status ?? '?'}${s.exitCode != null ? ` ${s.exitCode}` : ''}${s.signal ? ` ${s.signal}` : ''}]\n`));
        if (s.status === 'exited' || s.status === 'killed' || s.status === 'failed') exitCode = s.exitCode ?? 1;
      }
      if (!flags.follow && historyEnd !== undefined && r.offset + 1 >= historyEnd) exitCode ??= 0;
      schedule();
    });
    view.on('welcome', (w) => {
      if (!flags.follow && (w.logNext ?? 0) <= (from ?? 0)) {
        exitCode ??= 0;
        schedule();
      }
    });
    view.on('truncated', (requested, first) => {
      err.push(Buffer.from(`sluice: records ${requested}…${first - 1} were evicted from the relay's history\n`));
      schedule();
    });
    view.on('error', (e) => {
      if (view.error) {
        process.stderr.write(`sluice: ${e.message}\n`);
        process.exit(1);
      }
    });
  });
}

/** One pending 'drain' per stream, however many ticks write while it is backed up. */
const draining = new WeakMap<NodeJS.WriteStream, Promise<void>>();

function write(stream: NodeJS.WriteStream, data: Buffer): Promise<void> {
  if (stream.write(data)) return draining.get(stream) ?? Promise.resolve();
  let pending = draining.get(stream);
  if (!pending) {
    pending = new Promise((resolve) =>
      stream.once('drain', () => {
        draining.delete(stream);
        resolve();
      }),
    );
    draining.set(stream, pending);
  }
  return pending;
}
