/** `sluice pub <channel> [JSON | --set key=value ...]`: publishes a state (sync) or a diff. */
import { getOwn, setOwn } from '../protocol/own.js';
import type { Command } from 'commander';
import { Connection } from '../client/connection.js';
import { FrameType, Flag } from '../protocol/frame-codes.js';
import { encodeFrame } from '../protocol/header.js';
import { decodeMessage } from '../protocol/message.js';
import { isJsonObject, utf8Encode } from '../protocol/utf8.js';
import type { JsonObject, JsonValue } from '../protocol/utf8.js';
import { addClientOptions, channelUrl, timeoutMs, token } from './common-options.js';
import type { ClientFlags } from './common-options.js';
import { checkChannelName, describeRefusal, unreachableReason } from './relay-link.js';

/** `a.b=1` → {a: {b: 1}}; values are JSON when they parse as JSON, strings otherwise. */
export function parseAssignments(sets: string[]): JsonObject {
  const out: JsonObject = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`--set expects key=value, got "${s}"`);
    const path = s.slice(0, eq).split('.');
    const raw = s.slice(eq + 1);
    let value: JsonValue;
    try {
      value = JSON.parse(raw) as JsonValue;
    } catch {
      value = raw;
    }
    // Own properties only: `--set __proto__.x=1` sets a field named "__proto__".
    let node = out;
    for (const seg of path.slice(0, -1)) {
      const next = getOwn(node, seg);
      if (isJsonObject(next)) node = next;
      else {
        const fresh: JsonObject = {};
        setOwn(node, seg, fresh);
        node = fresh;
      }
    }
    setOwn(node, path[path.length - 1]!, value);
  }
  return out;
}

export function addPubCommand(program: Command): void {
  const cmd = program
    .command('pub')
    .description('publish a state (replaces it) or, with --set/--diff, a diff (merged into it)')
    .argument('<channel>', 'channel name')
    .argument('[json]', 'a JSON object')
    .option('--set <key=value>', 'set one field (dotted paths allowed); repeatable; sends a diff', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--diff', 'send the JSON argument as a diff (RFC 7386 merge patch: null deletes) instead of a full state');
  addClientOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ sluice pub counter '{"count": 1, "label": "hits"}'    # replace the state
  $ sluice pub counter --set count=2 --set meta.by=cli   # merge a diff
  $ sluice pub counter --diff '{"label": null}'          # delete a field

The channel must not have another source connected (the relay refuses with 4409).`,
  );
  cmd.action(async (channel: string, json: string | undefined, flags: ClientFlags & { set: string[]; diff?: boolean }) => {
    checkChannelName(channel);
    let body: JsonObject;
    let isDiff: boolean;
    if (flags.set.length > 0) {
      if (json !== undefined) throw new Error('give either a JSON argument or --set, not both');
      body = parseAssignments(flags.set);
      isDiff = true;
    } else {
      if (json === undefined) throw new Error('nothing to publish: give a JSON object or --set key=value');
      let parsed: unknown;
      try {
        parsed = JSON.parse(json);
      } catch (e) {
        throw new Error(`not valid JSON: ${(e as Error).message}`);
      }
      if (!isJsonObject(parsed)) throw new Error('the state must be a JSON object');
      body = parsed;
      isDiff = flags.diff === true;
    }
    const tok = token(flags);
    const timeout = timeoutMs(flags);
    const url = channelUrl(flags, 'source', channel);
    // Retries (a relay being restarted) until --timeout; the first close after connecting ends it.
    const conn = new Connection(url, tok ? { token: tok } : {});
    const frame = isDiff ? encodeFrame({ type: FrameType.SignalDiff }, utf8Encode(JSON.stringify(body))) : encodeFrame({ type: FrameType.SignalSync, flags: Flag.Keyframe }, utf8Encode(JSON.stringify(body)));
    const result = await new Promise<{ ok: boolean; message?: string }>((resolve) => {
      const timer = setTimeout(() => void unreachableReason(url).then((why) => resolve({ ok: false, message: `${why} (gave up after ${timeout} ms; see --timeout)` })), timeout);
      conn.on('message', (bytes) => {
        try {
          const m = decodeMessage(bytes);
          if (m.kind === 'welcome') {
            conn.send(frame);
            clearTimeout(timer);
            resolve({ ok: true });
          } else if (m.kind === 'error') {
            clearTimeout(timer);
            resolve({ ok: false, message: `${m.error.code} ${m.error.name}: ${m.error.message}` });
          }
        } catch {
          /* ignore frames we cannot read */
        }
      });
      conn.on('refused', (e) => {
        // An SDK told not to retry may report a failed connect (1006) as a refusal: say what stands in the way.
        if (e.closeCode >= 4000) resolve({ ok: false, message: describeRefusal(e) });
        else void unreachableReason(url).then((why) => resolve({ ok: false, message: why }));
      });
      conn.on('close', (code, reason) => resolve({ ok: false, message: `connection closed (${code}${reason ? ` ${reason}` : ''})` }));
      conn.start();
    });
    await conn.close();
    if (!result.ok) {
      process.stderr.write(`sluice pub: ${result.message ?? 'failed'}\n`);
      process.exit(1);
    }
  });
}
