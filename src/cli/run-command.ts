/** `sluice run [--id ID] -- <command> [args...]`: runs a command and streams it; exits with its code. */
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { streamProcess } from '../process/stream-process.js';
import { addClientOptions, relayUrl, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';

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

Exit status: the command's; 128+N when it was killed by signal N; 127 when it could not start.`,
  );
  cmd.action(async (command: string, args: string[], flags: ClientFlags & { id?: string; quiet?: boolean }) => {
    const id = flags.id ?? `${basename(command).replace(/[^A-Za-z0-9_\-.]/g, '') || 'proc'}-${randomBytes(3).toString('hex')}`;
    const relay = relayUrl(flags);
    if (process.stderr.isTTY) process.stderr.write(`sluice: streaming to process:${id} — ${relay.replace(/^ws/, 'http')}/process/${id}\n`);
    const tok = token(flags);
    const p = streamProcess(relay, id, command, args, { mirror: !flags.quiet, ...(tok ? { token: tok } : {}) });
    // Signals for us are for the child; we exit when it does.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => p.kill(sig));
    p.source.on('error', (e) => process.stderr.write(`sluice: ${e.message}\n`));
    const status = await p.done;
    if (status.status === 'failed') process.stderr.write(`sluice: could not start ${command}: ${status.error ?? ''}\n`);
    process.exit(status.exitCode ?? 1);
  });
}
