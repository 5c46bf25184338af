// Every command that waits for a relay gives up with a one-line reason instead of hanging or
// showing nothing: relay down, refused connection, invalid channel name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnRelay } from '../support/relay-harness.js';
import { deadPort, finish, sluice } from './cli-harness.js';

const UNREACHABLE = /cannot reach relay at ws:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/;

describe('CLI: relay down, refused, bad names', () => {
  it('with the relay down, sub, sub --once, tail, tail --no-follow and pub exit 1 with the reason after --timeout', { timeout: 60_000 }, async () => {
    const env = { SLUICE_URL: `ws://127.0.0.1:${await deadPort()}` };
    const runs = [['sub', 'counter'], ['sub', 'counter', '--once'], ['tail', 'process:x'], ['tail', 'process:x', '--no-follow'], ['sub', 'counter', '--json'], ['pub', 'counter', '{"a":1}']].map((args) => ({
      args,
      r: sluice([...args, '--timeout', '800'], env),
    }));
    for (const { args, r } of runs) {
      const d = await finish(r);
      assert.equal(d.code, 1, `${args.join(' ')} exits 1`);
      const lines = d.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${args.join(' ')}: one line on stderr: ${d.stderr}`);
      assert.match(lines[0]!, UNREACHABLE);
      assert.match(lines[0]!, new RegExp(`^sluice ${args[0]}: `));
      assert.equal(d.stdout, '', `${args.join(' ')}: nothing on stdout`);
    }
  });

  it('with the relay down, run still runs the command, says it is not streaming and why, and exits with its code', { timeout: 30_000 }, async () => {
    const env = { SLUICE_URL: `ws://127.0.0.1:${await deadPort()}` };
    const d = await finish(sluice(['run', '--timeout', '500', '--id', 'offline', '--', 'sh', '-c', 'echo out; sleep 1; echo more; exit 3'], env));
    assert.equal(d.code, 3);
    assert.equal(d.stdout, 'out\nmore\n', 'the command ran and its output was mirrored');
    assert.match(d.stderr, /streaming to process:offline \(http:\/\/127\.0\.0\.1:\d+\/process\/offline\)/);
    assert.match(d.stderr, /not streaming: cannot reach relay at ws:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('a command that ends before --timeout with the relay down exits with its code at once after the timeout, not after the drain wait', { timeout: 30_000 }, async () => {
    const env = { SLUICE_URL: `ws://127.0.0.1:${await deadPort()}` };
    const d = await finish(sluice(['run', '--timeout', '500', '--id', 'quick', '--', 'sh', '-c', 'exit 4'], env));
    assert.equal(d.code, 4);
    assert.match(d.stderr, /not streaming: cannot reach relay/);
    assert.ok(d.ms < 8000, `exited after ${d.ms} ms`);
  });

  it("sub 'bad name' (and tail) exits 1 with the invalid-name error, once", { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    for (const args of [['sub', 'bad name'], ['sub', 'bad name', '--once'], ['tail', 'process:bad name']]) {
      const d = await finish(sluice(args, { SLUICE_URL: relay.url }), 10_000);
      assert.equal(d.code, 1, args.join(' '));
      assert.match(d.stderr, /invalid channel name "(process:)?bad name"/);
      assert.equal(d.stderr.trim().split('\n').length, 1, `one line: ${d.stderr}`);
    }
  });

  it('a refusal that will not be retried ends the command with the close code and reason', { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay(['--auth', 'jwt', '--jwt-secret', 'a-secret-of-at-least-32-characters-long!']);
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    for (const args of [['sub', 'counter'], ['sub', 'counter', '--once'], ['tail', 'process:x']]) {
      const d = await finish(sluice(args, env), 10_000);
      assert.equal(d.code, 1, args.join(' '));
      assert.match(d.stderr, /^sluice (sub|tail): refused: 4401 unauthenticated/, d.stderr);
    }
    const r = await finish(sluice(['run', '--id', 'noauth', '--', 'sh', '-c', 'sleep 0.5; exit 5'], env), 10_000);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /not streaming: refused: 4401 unauthenticated/);
    assert.equal(r.stderr.match(/4401/g)?.length, 1, `the refusal is told once: ${r.stderr}`);
  });
});
