/** `sluice run [--id ID] -- <command> [args...]`: runs a command and streams it; exits with its code. */
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { closeCodeInfo } from '../protocol/close-codes.js';
import { isValidChannelName } from '../protocol/channel-name.js';
import { ProcessDeliveryError, streamProcess } from '../process/stream-process.js';
import type { ProcessStatus } from '../process/process-status.js';
import { addClientOptions, relayUrl, timeoutMs, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';
import { closeInfo, describeRefusal, firstContact, onFatal } from './relay-link.js';
import type { LinkTarget } from './relay-link.js';

/** The page that shows a process: `ws://h:9100` → `http://h:9100/process/{id}`. */
export function processPageUrl(relay: string, id: string): string {
  return `${relay.replace(/^ws(s?):/, 'http$1:')}/process/${encodeURIComponent(id)}`;
}

export function addRunCommand(program: Command): void {
  const cmd = program
    .command('run')
    .description("run a command, stream its output and status to channel process:{id}, and exit with the command's exit code")
    .argument('<command>', 'the command to run')
    .argument('[args...]', 'its arguments (put -- before the command when they start with -)')
    .option('--id <id>', 'process id (channel process:{id}); default: command name and a random suffix')
    .option('-q, --quiet', "do not echo the command's output here")
    .passThroughOptions();
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice run --id build-1 -- npm run build
  $ sluice tail process:build-1            # elsewhere: history, then live, then its exit code
  $ open http://localhost:9100/process/build-1

At start it prints "streaming to process:{id} (http://…/process/{id})" on stderr. When the relay
cannot be reached within --timeout, or refuses the stream, the command still runs: sluice says
on stderr that it is not streaming and why. After the command ends, sluice waits (up to 10 s) for
the relay to confirm every record, and says on stderr when it could not.

Exit status: always the command's: 128+N when it was killed by signal N; 127 when it could not
start — whether or not streaming worked.`,
  );
  cmd.action(async (command: string, args: string[], flags: ClientFlags & { id?: string; quiet?: boolean }) => {
    const id = flags.id ?? `${basename(command).replace(/[^A-Za-z0-9_\-.]/g, '') || 'proc'}-${randomBytes(3).toString('hex')}`;
    if (!isValidChannelName(`process:${id}`)) throw new Error(`invalid --id ${JSON.stringify(id)}: use up to 120 characters from A–Z a–z 0–9 _ - . : @`);
    const timeout = timeoutMs(flags);
    const relay = relayUrl(flags);
    const say = (line: string) => process.stderr.write(`sluice run: ${line}\n`);
    const tok = token(flags);
    const p = streamProcess(relay, id, command, args, { mirror: !flags.quiet, ...(tok ? { token: tok } : {}) });
    // Signals for us are for the child; we exit when it does.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => p.kill(sig));
    // From here on, a signal reaches the child (scripts may wait for this line).
    say(`streaming to process:${id} (${processPageUrl(relay, id)})`);

    let notStreaming: string | undefined;
    const stop = (reason: string) => {
      if (notStreaming !== undefined) return;
      notStreaming = reason;
      say(`not streaming: ${reason}; the command runs on`);
      p.detach(reason);
    };
    onFatal(p.source, stop);
    p.source.on('error', (e) => {
      // Connection trouble (anything with a close code) is told once: by onFatal, firstContact or the close below.
      if (notStreaming === undefined && typeof (e as { closeCode?: unknown }).closeCode !== 'number') say(e.message);
    });
    // A retryable close the relay explains (e.g. 4409: another source holds the channel) is worth a
    // line, once per code; the ones that end streaming are told by onFatal.
    const told = new Set<number>();
    (p.source as LinkTarget).on('close', (...args: unknown[]) => {
      const { code, reason } = closeInfo(args);
      if (code < 4001 || !closeCodeInfo(code).retryable || told.has(code) || notStreaming !== undefined) return;
      told.add(code);
      say(`the relay closed the stream: ${describeRefusal({ closeCode: code, reason })} (retrying)`);
    });
    void firstContact(p.source, `${relay}/source/${encodeURIComponent(`process:${id}`)}`, timeout).then((c) => {
      if (!c.ok) stop(c.reason);
    });

    let status: ProcessStatus;
    try {
      status = await p.done;
    } catch (e) {
      if (!(e instanceof ProcessDeliveryError)) throw e;
      status = e.status;
      if (notStreaming === undefined) say(`output may be incomplete on the relay: ${e.reason}`);
    }
    if (status.status === 'failed') say(`could not start ${command}: ${status.error ?? ''}`);
    process.exit(status.exitCode ?? 1);
  });
}
