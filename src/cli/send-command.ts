/** `sluice send <channel> <action-json>` and `sluice call <channel> <method> [params-json]`: talk to a channel's source. */
import type { Command } from 'commander';
import type { JsonValue } from '../protocol/utf8.js';
import { addClientOptions, channelUrl, die, timeoutMs, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';
import { checkChannelName } from './relay-link.js';
import { RelaySession } from './relay-session.js';

function parseJsonArg(what: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

export function addSendCommand(program: Command): void {
  const cmd = program
    .command('send')
    .description("send an action (any JSON value) to the channel's source, as a receiver; exit 0 once the relay passed it on")
    .argument('<channel>', 'channel name')
    .argument('<action-json>', 'the action, e.g. \'{"type":"reset"}\'');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice send counter '{"type":"increment","by":5}'
  $ sluice send game '"pause"'

The source gets it as an 'action' event (source.on('action', (action, sender) => …)).
Exit status: 0 when the relay passed the action on to the source; 1 with the reason when the
channel has no source, the source is not keeping up, or the relay cannot be reached within --timeout.`,
  );
  cmd.action(async (channel: string, json: string, flags: ClientFlags) => {
    checkChannelName(channel);
    const action = parseJsonArg('the action', json);
    const timeout = timeoutMs(flags);
    const s = new RelaySession(channelUrl(flags, 'stream', channel), token(flags));
    try {
      await s.open(timeout);
      if (!s.sourceOnline) die('send', `no source on ${channel}: the action was not sent`);
      s.send({ kind: 'input', event: { input: 'action', action }, timestamp: Date.now() >>> 0 });
      await s.barrier(timeout);
      const e = s.errors[0];
      if (e) die('send', `not delivered: ${e.message} (${e.code} ${e.name})`);
    } catch (e) {
      die('send', (e as Error).message);
    }
    await s.close();
  });
}

export function addCallCommand(program: Command): void {
  const cmd = program
    .command('call')
    .description("call an RPC method on the channel's source and print its result as JSON")
    .argument('<channel>', 'channel name')
    .argument('<method>', 'method name (the source registered it with source.handle(method, fn))')
    .argument('[params-json]', 'parameters, any JSON value');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice call counter add '{"by": 2}'
  $ sluice call counter reset --timeout 2000

--timeout bounds both reaching the relay and waiting for the answer (default 10000 ms).
Exit status: 0 with the result on stdout (null when the method returned nothing); 1 with the
reason on stderr when the source answered with an error, there is no source, no answer came
within --timeout, or the relay cannot be reached.`,
  );
  cmd.action(async (channel: string, method: string, paramsJson: string | undefined, flags: ClientFlags) => {
    checkChannelName(channel);
    const params = paramsJson === undefined ? undefined : parseJsonArg('the parameters', paramsJson);
    const timeout = timeoutMs(flags);
    const started = Date.now();
    const s = new RelaySession(channelUrl(flags, 'stream', channel), token(flags));
    try {
      await s.open(timeout);
      if (!s.sourceOnline) die('call', `no source on ${channel}: ${method} was not called`);
      const r = await s.call(method, params, Math.max(1, timeout - (Date.now() - started)));
      if (r.error) die('call', `${method} failed: ${r.error.code}: ${r.error.message}`);
      process.stdout.write(`${JSON.stringify(r.result ?? null)}\n`);
    } catch (e) {
      die('call', (e as Error).message);
    }
    await s.close();
  });
}
