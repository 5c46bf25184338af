/** `sluice sub <channel> [--select a,b]`: prints state changes as JSON lines, or a live view on a terminal. */
import type { Command } from 'commander';
import { subscribe } from '../client/stream-view.js';
import { addClientOptions, channelUrl, onStdoutClosed, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';

export function addSubCommand(program: Command): void {
  const cmd = program
    .command('sub')
    .description("print a channel's state as a JSON line on every change (a live-updating view when stdout is a terminal)")
    .argument('<channel>', 'channel name')
    .option('--select <fields>', 'comma-separated fields or dotted paths to receive (e.g. count,player.pos)')
    .option('--once', 'print the current state once and exit')
    .option('--json', 'JSON lines even on a terminal');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice sub counter
  $ sluice sub metrics --select uptime,events | jq .events
  $ sluice sub game --select player.pos --once`,
  );
  cmd.action((channel: string, flags: ClientFlags & { select?: string; once?: boolean; json?: boolean }) => {
    const tok = token(flags);
    const view = subscribe(channelUrl(flags, 'stream', channel), { ...(flags.select ? { select: flags.select } : {}), ...(tok ? { token: tok } : {}) });
    onStdoutClosed(() => process.exit(0));
    const live = process.stdout.isTTY && !flags.json && !flags.once;
    const render = () => {
      if (!live) return;
      const status = view.connected ? (view.sourceOnline ? `live · ${view.latencyMs ?? '–'} ms` : 'source offline') : 'reconnecting…';
      process.stdout.write(`\x1b[H\x1b[2J${channel}  [${status}]\n\n${JSON.stringify(view.get(), null, 2)}\n`);
    };
    view.subscribe(() => {
      if (live) return render();
      process.stdout.write(`${JSON.stringify(view.get())}\n`);
      if (flags.once) process.exit(0);
    });
    view.on('status', render);
    view.on('error', (e) => {
      process.stderr.write(`sluice sub: ${e.message}\n`);
      if (view.error) process.exit(1);
    });
  });
}
