/**
 * `sluice tail <channel>`: prints a log channel's history, then live records — stdout records
 * to stdout, stderr to stderr, verbatim — and, for a process, exits with its exit code.
 */
import type { Command } from 'commander';
import { subscribe } from '../client/stream-view.js';
import type { LogRecordEvent } from '../client/stream-view.js';
import { followerExitCode, formatStatus, readStatusRecord } from '../process/process-status.js';
import { channelPresence } from './channel-presence.js';
import { addClientOptions, channelUrl, die, onStdoutClosed, timeoutMs, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';
import { checkChannelName, firstContact, isRefusalNotice, onFatal } from './relay-link.js';

export function addTailCommand(program: Command): void {
  const cmd = program
    .command('tail')
    .description("print a log channel's history then live records (stdout to stdout, stderr to stderr); for a process, exit with its exit code")
    .argument('<channel>', 'e.g. process:build-1')
    .option('--from <offset>', 'start at this record offset instead of the oldest retained one')
    .option('--no-follow', 'print the retained history and exit (non-zero when the channel is unknown)')
    .option('--status', 'also print status changes to stderr');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice tail process:build-1
  $ sluice tail process:build-1 --from 1200     # resume exactly after record 1199
  $ sluice tail logs:api --no-follow | grep ERROR

Exit status: following a process, its exit code once it ends. With --no-follow, 0 once the
history is printed (an ended process's final status is printed on stderr, e.g. "[exited 3]").
1 with a one-line reason when the relay cannot be reached within --timeout, refuses the
connection, or (--no-follow) knows nothing of the channel (a wrong id, or expired).`,
  );
  cmd.action(async (channel: string, flags: ClientFlags & { from?: string; follow: boolean; status?: boolean }) => {
    checkChannelName(channel);
    const timeout = timeoutMs(flags);
    const from = flags.from === undefined ? undefined : Number(flags.from);
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) throw new Error('--from takes a non-negative integer offset');
    const tok = token(flags);
    const url = channelUrl(flags, 'stream', channel);
    const view = subscribe(url, { ...(from !== undefined ? { resumeFrom: from } : {}), ...(tok ? { token: tok } : {}) });
    onStdoutClosed(() => process.exit(0));
    const fail = (reason: string): never => die('tail', reason);
    onFatal(view, fail);

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
    const note = (line: string) => {
      err.push(Buffer.from(`${line}\n`));
      schedule();
    };
    /** --no-follow: stop once the history the Welcome announced has been printed. */
    const finishHistory = () => {
      exitCode ??= 0;
      schedule();
    };
    let historyEnd: number | undefined;
    view.on('welcome', (w) => (historyEnd ??= w.logNext ?? 0));
    view.on('log', (r: LogRecordEvent) => {
      if (r.stream === 'stdout') out.push(r.data);
      else if (r.stream === 'stderr') err.push(r.data);
      else if (r.stream === 'status') {
        const s = readStatusRecord(r.text);
        if (!s.ok) err.push(Buffer.from(`sluice tail: record ${r.offset}: ${s.problem}\n`));
        else {
          // --no-follow always shows how an ended process ended; following, --status shows every change.
          if (flags.status || (!flags.follow && s.final)) err.push(Buffer.from(`${formatStatus(s)}\n`));
          if (s.final && flags.follow) exitCode = followerExitCode(s);
        }
      }
      if (!flags.follow && historyEnd !== undefined && r.offset + 1 >= historyEnd) finishHistory();
      schedule();
    });
    view.on('truncated', (requested, first) => note(`sluice tail: records ${requested}…${first - 1} were evicted from the relay's history`));
    view.on('error', (e) => {
      if (!isRefusalNotice(view, e)) note(`sluice tail: ${e.message}`); // refusals: onFatal / firstContact
    });

    const contact = await firstContact(view, url, timeout);
    if (!contact.ok) fail(contact.reason);
    if (flags.follow) return;
    const end = historyEnd ?? view.welcome?.logNext ?? 0;
    if (end > (from ?? 0)) return; // records are on their way; the last one ends it
    if ((await channelPresence(view)) === 'unknown') fail(`unknown or expired channel ${channel}: the relay has no source, state or history for it`);
    finishHistory();
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
