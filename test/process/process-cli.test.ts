// `sluice run` and `sluice tail` as a user runs them: real child processes, a real relay.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { subscribe } from '../../src/client/index.js';
import { sleep, spawnRelay } from '../support/relay-harness.js';

const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

interface Done {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

function sluice(args: string[], env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; done: Promise<Done> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<Done>((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })));
  return { child, done };
}

// Prints 200,000 lines to stdout (and every 5,000th also to stderr), paced over ~2 s.
const PRINTER = `
let i = 0;
function batch() {
  let s = '';
  for (let k = 0; k < 2000 && i < 200000; k++, i++) {
    s += 'line ' + i + ' ' + 'x'.repeat(i % 37) + '\\n';
    if (i % 5000 === 0) process.stderr.write('progress ' + i + '\\n');
  }
  process.stdout.write(s, () => (i < 200000 ? setTimeout(batch, 20) : process.exit(7)));
}
batch();`;
const EXPECTED_OUT = Array.from({ length: 200_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}\n`).join('');
const EXPECTED_ERR = Array.from({ length: 40 }, (_, k) => `progress ${k * 5000}\n`).join('');

describe('process streaming (CLI)', () => {
  it('200,000 lines: tail from the start and tail started halfway both print exactly the output', { timeout: 120_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    const early = sluice(['tail', 'process:big'], env);
    await sleep(500);
    const run = sluice(['run', '--id', 'big', '--', process.execPath, '-e', PRINTER], env);
    // Halfway: wait until about 100,000 lines went through, then start a second tail.
    const probe = subscribe(`${relay.url}/stream/process%3Abig`);
    let seen = 0;
    probe.on('log', (r) => {
      if (r.stream === 'stdout') for (const b of r.data) if (b === 0x0a) seen++;
    });
    while (seen < 100_000) await sleep(20);
    await probe.close();
    const late = sluice(['tail', 'process:big'], env);
    const [r, e, l] = await Promise.all([run.done, early.done, late.done]);
    t.diagnostic(`halfway tail started after ${seen} lines`);
    assert.equal(r.code, 7, 'sluice run exits with the command exit code');
    assert.ok(r.stdout.equals(Buffer.from(EXPECTED_OUT)), 'run mirrors stdout exactly');
    for (const [name, res] of [['early', e], ['late', l]] as const) {
      assert.equal(res.code, 7, `${name} tail exits with the process exit code`);
      assert.equal(res.stdout.length, EXPECTED_OUT.length, `${name} tail stdout length`);
      assert.ok(res.stdout.equals(Buffer.from(EXPECTED_OUT)), `${name} tail stdout is exactly the command's stdout`);
      assert.equal(res.stderr.toString(), EXPECTED_ERR, `${name} tail stderr is exactly the command's stderr`);
    }
  });

  it('exit codes and signals propagate through run and tail', { timeout: 60_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    const cases: Array<[string, string[], number]> = [
      ['ok', ['sh', '-c', 'echo fine'], 0],
      ['three', ['sh', '-c', 'exit 3'], 3],
      ['term', ['sh', '-c', 'kill -TERM $$'], 128 + 15],
      ['kill9', ['sh', '-c', 'kill -KILL $$'], 128 + 9],
      ['nope', ['/definitely/not/a/command'], 127],
    ];
    for (const [id, cmd, code] of cases) {
      const r = await sluice(['run', '--id', id, '--quiet', '--', ...cmd], env).done;
      assert.equal(r.code, code, `run ${id}`);
      const tl = await sluice(['tail', `process:${id}`], env).done;
      assert.equal(tl.code, code, `tail ${id}`);
    }
    // A signal sent to `sluice run` is forwarded to the child.
    const long = sluice(['run', '--id', 'sleeper', '--quiet', '--', 'sleep', '30'], env);
    // The streaming line comes once sluice forwards signals to the child.
    let err = '';
    long.child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    while (!err.includes('streaming to process:sleeper')) await sleep(20);
    long.child.kill('SIGINT');
    assert.equal((await long.done).code, 128 + 2);
  });

  it('a receiver killed mid-stream resumes from its offset: the concatenation equals the output', { timeout: 60_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const run = sluice(['run', '--id', 'resume', '--quiet', '--', process.execPath, '-e', PRINTER], { SLUICE_URL: relay.url });
    const parts: Buffer[] = [];
    const a = subscribe(`${relay.url}/stream/process%3Aresume`);
    let lines = 0;
    a.on('log', (r) => {
      if (r.stream !== 'stdout') return;
      parts.push(Buffer.from(r.data));
      for (const b of r.data) if (b === 0x0a) lines++;
    });
    while (lines < 50_000) await sleep(10);
    await a.close(); // killed mid-stream
    const offset = a.logOffset;
    await sleep(300); // more output flows meanwhile
    const b = subscribe(`${relay.url}/stream/process%3Aresume`, { resumeFrom: offset });
    let ended = false;
    b.on('log', (r) => {
      if (r.stream === 'stdout') parts.push(Buffer.from(r.data));
      if (r.stream === 'status' && /exited/.test(r.text)) ended = true;
    });
    await run.done;
    while (!ended) await sleep(20);
    await b.close();
    assert.ok(Buffer.concat(parts).equals(Buffer.from(EXPECTED_OUT)), 'no gap, no duplicate');
  });

  it('pub and sub: publish a state and a diff, print JSON lines', { timeout: 30_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    assert.equal((await sluice(['pub', 'cfg', '{"count":1,"nested":{"a":1}}'], env).done).code, 0);
    const watch = sluice(['sub', 'cfg', '--json'], env);
    await sleep(500);
    assert.equal((await sluice(['pub', 'cfg', '--set', 'count=2', '--set', 'nested.b="two"'], env).done).code, 0);
    assert.equal((await sluice(['pub', 'cfg', '--diff', '{"nested":{"a":null}}'], env).done).code, 0);
    await sleep(500);
    watch.child.kill('SIGTERM');
    const lines = (await watch.done).stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(lines, [{ count: 1, nested: { a: 1 } }, { count: 2, nested: { a: 1, b: 'two' } }, { count: 2, nested: { b: 'two' } }]);
    const once = await sluice(['sub', 'cfg', '--select', 'nested.b', '--once'], env).done;
    assert.deepEqual(JSON.parse(once.stdout.toString()), { nested: { b: 'two' } });
    const bad = await sluice(['pub', 'cfg', '[1,2]'], env).done;
    assert.equal(bad.code, 1);
    assert.match(bad.stderr.toString(), /JSON object/);
  });
});
