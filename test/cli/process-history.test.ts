// Reading a process after the fact: the id `run` generated, an ended process's output and exit
// code, unknown or expired ids, and status records a follower cannot read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscribe } from '../../src/client/index.js';
import { TestPeer, spawnRelay } from '../support/relay-harness.js';
import { finish, sluice, until } from './cli-harness.js';

describe('CLI: process history', () => {
  it('run prints the id it generated and the page, at start; that id can be tailed', { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    const r = sluice(['run', '--', 'sh', '-c', 'echo hello; sleep 2; echo bye'], env);
    // At start: before the command has finished.
    await until(() => /streaming to process:/.test(r.stderr()), 10_000, 'the streaming line');
    assert.equal(r.child.exitCode, null, 'printed while the command still runs');
    const m = /^sluice run: streaming to process:(sh-[0-9a-f]{6}) \((http:\/\/127\.0\.0\.1:\d+)\/process\/(sh-[0-9a-f]{6})\)$/m.exec(r.stderr());
    assert.ok(m, r.stderr());
    assert.equal(m[2], relay.http);
    assert.equal(m[1], m[3]);
    assert.equal((await finish(r)).code, 0);
    const tl = await finish(sluice(['tail', `process:${m[1]}`, '--no-follow'], env));
    assert.equal(tl.stdout, 'hello\nbye\n');
  });

  it('an ended process: tail --no-follow prints its output and status line and exits 0; sub --once prints its final state', { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    assert.equal((await finish(sluice(['run', '--id', 'ended', '-q', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], env))).code, 3);
    const tl = await finish(sluice(['tail', 'process:ended', '--no-follow'], env));
    assert.equal(tl.code, 0);
    assert.equal(tl.stdout, 'out\n');
    assert.equal(tl.stderr, 'err\n[exited 3]\n');
    // Following an ended process: its exit code.
    assert.equal((await finish(sluice(['tail', 'process:ended'], env))).code, 3);
    const once = await finish(sluice(['sub', 'process:ended', '--once'], env));
    assert.equal(once.code, 0);
    const state = JSON.parse(once.stdout) as { status: string; exitCode: number };
    assert.equal(state.status, 'exited');
    assert.equal(state.exitCode, 3);
  });

  it('an unknown or expired id: tail --no-follow and sub --once say so and exit 1', { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    // Twice: the first call creates the empty channel; the second finds it existing but empty.
    for (let i = 0; i < 2; i++) {
      for (const args of [['tail', 'process:nope', '--no-follow'], ['sub', 'process:nope', '--once']]) {
        const d = await finish(sluice(args, env), 10_000);
        assert.equal(d.code, 1, args.join(' '));
        assert.match(d.stderr, /^sluice (tail|sub): unknown or expired channel process:nope/);
        assert.equal(d.stdout, '');
      }
    }
    // A tail that waits on the channel (follow) keeps it in existence: still unknown to the others.
    const waiting = sluice(['tail', 'process:later'], env);
    t.after(() => waiting.child.kill('SIGKILL'));
    const probe = subscribe(`${relay.url}/stream/process%3Alater`);
    await new Promise<void>((resolve) => probe.on('welcome', () => resolve()));
    await probe.close();
    const d = await finish(sluice(['tail', 'process:later', '--no-follow'], env), 10_000);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /unknown or expired channel process:later/);
  });

  it('status records that are not readable (null, arrays, bad JSON, no status, bad exit code) print a line and never crash tail', { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    const bad = ['null', '[1,2]', '"running"', 'not json', '{"exitCode":1}', '{"status":5}'];
    const src = await TestPeer.connect(`${relay.url}/source/process%3Amangled`);
    src.send({ kind: 'signal-sync', state: { status: 'running' } });
    const send = (stream: 'stdout' | 'status', text: string) => src.send({ kind: 'log-record', offset: 0, time: Date.now(), stream, data: Buffer.from(text) });
    send('stdout', 'before\n');
    for (const text of bad) send('status', text);
    send('stdout', 'after\n');
    send('status', '{"status":"exited","exitCode":"three"}');
    // What the relay kept (a relay that validates status records may refuse some and close the source).
    const watch = subscribe(`${relay.url}/stream/process%3Amangled`);
    let seen = 0;
    watch.on('log', () => seen++);
    await until(() => seen === bad.length + 3 || src.closeCode !== undefined, 10_000, 'the records, or a refusal');
    await watch.close();
    src.close();
    const kept: string[] = [];
    const probe = subscribe(`${relay.url}/stream/process%3Amangled`);
    probe.on('log', (r) => kept.push(`${r.stream}:${r.text}`));
    await until(() => probe.welcome !== undefined && kept.length === probe.welcome.logNext, 10_000, 'the history');
    await probe.close();

    const tl = await finish(sluice(['tail', 'process:mangled', '--no-follow'], env));
    assert.equal(tl.code, 0, tl.stderr);
    assert.doesNotMatch(tl.stderr, /TypeError|SyntaxError|\n\s+at /, 'no crash, no stack');
    const keptBad = kept.filter((k) => k.startsWith('status:') && bad.includes(k.slice(7)));
    const notes = tl.stderr.split('\n').filter((l) => /^sluice tail: record \d+: status record/.test(l));
    assert.equal(notes.length, keptBad.length, tl.stderr);
    if (kept.includes('stdout:after\n')) assert.equal(tl.stdout, 'before\nafter\n');
    if (kept.includes('status:{"status":"exited","exitCode":"three"}')) {
      assert.match(tl.stderr, /\[exited\]/);
      // Following: a final status with an exit code that is not a valid one exits 1.
      assert.equal((await finish(sluice(['tail', 'process:mangled'], env))).code, 1);
    }
    t.diagnostic(`relay kept ${keptBad.length} of ${bad.length} unreadable status records`);
  });
});
