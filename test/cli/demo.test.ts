// `npm run demo` when its port is taken: it reuses a running Sluice relay, or says what holds the
// port and exits 1 — never a raw EADDRINUSE stack.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnRelay } from '../support/relay-harness.js';
import { until } from './cli-harness.js';

const DEMO = fileURLToPath(new URL('../../examples/demo.ts', import.meta.url));

function demo(port: number) {
  // Its own process group, so the test can end the demo and the sources it started, whatever happens.
  const child = spawn(process.execPath, ['--import', 'tsx', DEMO], { env: { ...process.env, SLUICE_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(`${code ?? signal}`)));
  const killAll = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  return { child, done, out: () => out, err: () => err, killAll };
}

describe('npm run demo on a taken port', () => {
  it('reuses a Sluice relay already running there', { timeout: 60_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const port = Number(new URL(relay.http).port);
    const d = demo(port);
    t.after(d.killAll);
    await until(() => /Dashboard: /.test(d.out()) || d.child.exitCode !== null, 30_000, 'the dashboard line').catch((e: Error) => {
      throw new Error(`${e.message}; stdout: ${d.out()}; stderr: ${d.err()}`);
    });
    assert.match(d.out(), new RegExp(`a Sluice relay is already running on port ${port}; using it`));
    assert.match(d.out(), new RegExp(`Dashboard: http://localhost:${port}/dashboard\\.html`));
    d.child.kill('SIGTERM');
    assert.equal(await d.done, '0', `demo exit; stderr: ${d.err()}`);
    assert.doesNotMatch(d.err(), /EADDRINUSE/);
  });

  it('says what else holds the port and exits 1', { timeout: 60_000 }, async (t) => {
    const other = createServer((_req, res) => res.writeHead(404).end('nothing here'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    t.after(() => other.close());
    const port = (other.address() as { port: number }).port;
    const d = demo(port);
    t.after(d.killAll);
    assert.equal(await d.done, '1');
    assert.match(d.err(), new RegExp(`port ${port} is in use by something that is not a Sluice relay: GET /healthz answered HTTP 404 "nothing here"`));
    assert.doesNotMatch(d.err(), /EADDRINUSE|\n\s+at /);
  });
});
