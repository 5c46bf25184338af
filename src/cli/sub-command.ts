/** `sluice sub <channel> [--select a,b]`: prints state changes as JSON lines, or a live view on a terminal. */
import type { Command } from 'commander';
import { subscribe } from '../client/stream-view.js';
import { channelPresence } from './channel-presence.js';
import { addClientOptions, channelUrl, die, onStdoutClosed, timeoutMs, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';
import { checkChannelName, firstContact, isRefusalNotice, onFatal } from './relay-link.js';

export function addSubCommand(program: Command): void {
  const cmd = program
    .command('sub')
    .description("print a channel's state as a JSON line on every change (a live-updating view when stdout is a terminal)")
    .argument('<channel>', 'channel name')
    .option('--select <fields>', 'comma-separated fields or dotted paths to receive (e.g. count,player.pos)')
    .option('--once', 'print the current state once and exit (non-zero when the channel is unknown)')
    .option('--json', 'JSON lines even on a terminal');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice sub counter
  $ sluice sub metrics --select uptime,events | jq .events
  $ sluice sub game --select player.pos --once
  $ sluice sub process:build-1 --once           # an ended process: its final status

Exit status: 1 with a one-line reason when the relay cannot be reached within --timeout, refuses
the connection, or (--once) knows nothing of the channel or sends no state within --timeout.`,
  );
  cmd.action(async (channel: string, flags: ClientFlags & { select?: string; once?: boolean; json?: boolean }) => {
    checkChannelName(channel);
    const timeout = timeoutMs(flags);
    const url = channelUrl(flags, 'stream', channel);
    const tok = token(flags);
    const view = subscribe(url, { ...(flags.select ? { select: flags.select } : {}), ...(tok ? { token: tok } : {}) });
    onStdoutClosed(() => process.exit(0));
    const fail = (reason: string): never => die('sub', reason);
    onFatal(view, fail);
    const live = process.stdout.isTTY && !flags.json && !flags.once;
    const render = () => {
      if (!live) return;
      const status = view.connected ? (view.sourceOnline ? `live · ${view.latencyMs ?? '–'} ms` : 'source offline') : view.welcome ? 'reconnecting…' : `connecting to ${url}…`;
      process.stdout.write(`\x1b[H\x1b[2J${channel}  [${status}]\n\n${JSON.stringify(view.get(), null, 2)}\n`);
    };
    render();
    const presence = flags.once ? channelPresence(view) : undefined;
    let printedOnce = false;
    view.subscribe(() => {
      if (live) return render();
      if (flags.once && printedOnce) return;
      printedOnce = true;
      process.stdout.write(`${JSON.stringify(view.get())}\n`);
      if (flags.once) exitAfterWrite(0);
    });
    view.on('status', render);
    view.on('error', (e) => {
      if (isRefusalNotice(view, e)) return; // onFatal / firstContact report it
      process.stderr.write(`sluice sub: ${e.message}\n`);
    });
    const started = Date.now();
    const contact = await firstContact(view, url, timeout);
    if (!contact.ok) fail(contact.reason);
    if (!presence) return;
    if ((await presence) === 'unknown') fail(`unknown or expired channel ${channel}: the relay has no source, state or history for it`);
    // Known, but no state yet (e.g. the source has not published): wait out the rest of --timeout.
    const left = Math.max(0, timeout - (Date.now() - started));
    setTimeout(() => {
      if (!view.hasState) fail(`no state on ${channel} within ${timeout} ms (${view.sourceOnline ? 'the source has not published any' : 'no source is connected'})`);
    }, left);
    if (!view.sourceOnline && !view.hasState) {
      // A known channel with no source and no state (only log history): its state is empty.
      process.stdout.write('{}\n');
      exitAfterWrite(0);
    }
  });
}

/** Exits once stdout has taken everything written (a pipe may still hold a large state). */
function exitAfterWrite(code: number): void {
  process.stdout.write('', () => process.exit(code));
}
