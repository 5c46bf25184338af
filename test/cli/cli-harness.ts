/** Runs the built `sluice` command as a user would: a child process, its output and exit code. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Done>;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
}

export function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<Done>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: Date.now() - started })),
  );
  return { child, done, stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString() };
}

/** Runs to the end, killing it (and failing) when it takes longer than `ms`. */
export async function finish(r: Running, ms = 20_000): Promise<Done> {
  const timer = setTimeout(() => r.child.kill('SIGKILL'), ms);
  const d = await r.done;
  clearTimeout(timer);
  if (d.signal === 'SIGKILL') throw new Error(`sluice did not exit within ${ms} ms; stderr: ${d.stderr}`);
  return d;
}

/** A port nothing listens on (bound, then released), for "relay is down" cases. */
export async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Waits until `pred` holds, polling every 20 ms, or throws after `ms`. */
export async function until(pred: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
