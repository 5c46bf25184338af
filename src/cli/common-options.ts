/** Options every client command shares: where the relay is and how to authenticate. */
import type { Command } from 'commander';
import { DEFAULT_TIMEOUT_MS, parseTimeout } from './relay-link.js';

export const DEFAULT_RELAY_URL = 'ws://localhost:9100';

export interface ClientFlags {
  relay?: string;
  token?: string;
  timeout?: string;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--relay <url>', `relay WebSocket URL (env SLUICE_URL; default ${DEFAULT_RELAY_URL})`)
    .option('--token <jwt>', 'bearer token for --auth jwt relays (env SLUICE_TOKEN)')
    .option('--timeout <ms>', `how long to wait to reach the relay before giving up with a reason (default ${DEFAULT_TIMEOUT_MS})`);
}

/** `--timeout` in milliseconds. */
export function timeoutMs(flags: ClientFlags): number {
  return parseTimeout(flags.timeout);
}

/** Prints `sluice <command>: <reason>` on stderr and exits with `code` (1 by default). */
export function die(command: string, reason: string, code = 1): never {
  process.stderr.write(`sluice ${command}: ${reason}\n`);
  process.exit(code);
}

export function relayUrl(flags: ClientFlags): string {
  return (flags.relay ?? process.env.SLUICE_URL ?? DEFAULT_RELAY_URL).replace(/\/+$/, '');
}

export function token(flags: ClientFlags): string | undefined {
  return flags.token ?? process.env.SLUICE_TOKEN ?? undefined;
}

/** `ws://host:9100/stream/process%3Ab-1` for a role and channel. */
export function channelUrl(flags: ClientFlags, role: 'source' | 'stream', channel: string): string {
  return `${relayUrl(flags)}/${role}/${encodeURIComponent(channel)}`;
}

/** Writes to stdout, ignoring EPIPE (e.g. `sluice tail x | head`): the reader left, we stop. */
export function onStdoutClosed(fn: () => void): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') fn();
  });
}
