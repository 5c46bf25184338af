/** The `sluice` command line: one subcommand per file, wired together here. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { decodeHexMessage } from './decode-command.js';
import { addPubCommand } from './pub-command.js';
import { addRelayCommand } from './relay-command.js';
import { addRunCommand } from './run-command.js';
import { addCallCommand, addSendCommand } from './send-command.js';
import { addSubCommand } from './sub-command.js';
import { addTailCommand } from './tail-command.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the program; exported so tests can run commands in-process. */
export function buildProgram(): Command {
  const program = new Command('sluice')
    .enablePositionalOptions()
    .description('Real-time streaming: publish live state, pixels, audio and logs into channels on a relay.')
    .version(version());

  addRelayCommand(program);
  addRunCommand(program);
  addTailCommand(program);
  addPubCommand(program);
  addSubCommand(program);
  addSendCommand(program);
  addCallCommand(program);

  program
    .command('decode')
    .description('decode one wire message given in hex and print it as JSON')
    .argument('<hex...>', 'message bytes in hex (spaces allowed)')
    .addHelpText('after', '\nExample:\n  $ sluice decode 31 00 02 00 00 00 00 00 00 00 00 00 0b 00 00 00 7b 22 63 6f 75 6e 74 22 3a 34 7d')
    .action((hex: string[]) => {
      console.log(decodeHexMessage(hex.join('')));
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
