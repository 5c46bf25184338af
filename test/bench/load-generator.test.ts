/**
 * The fan-out benchmark's measuring tool, checked against a real relay: the C load generator must
 * count every delivery exactly once (a miscount would make every ratio in docs/benchmarks.md
 * wrong) and time each one from its stamp.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { ADAPTERS, messageArgs } from '../../bench/fanout/adapters.js';
import { buildGenerator } from '../../bench/fanout/build-generator.js';
import type { Relay } from '../../src/relay/server.js';
import { startTestRelay } from '../support/relay-harness.js';

interface Report {
  delivered: number;
  samples: number;
  p50: number;
  p99: number;
  connected: number;
  sent: number;
}

let relay: Relay;
let generatorBin: string;

before(async () => {
  generatorBin = buildGenerator();
  relay = await startTestRelay({ maxFramesPerSecond: 1_000_000 });
});
after(() => relay.close());

function runGenerator(n: number) {
  const sluice = ADAPTERS.sluice!;
  const child = spawn(generatorBin, ['127.0.0.1', String(relay.port), sluice.receiverPath, String(n), sluice.sourcePath, ...sluice.args, ...messageArgs(sluice)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let wake = () => {};
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    wake();
  });
  const next = async (word: string): Promise<string> => {
    for (;;) {
      const i = lines.findIndex((l) => l.split(' ', 1)[0] === word);
      if (i >= 0) return lines.splice(i, 1)[0]!.slice(word.length + 1);
      await new Promise<void>((r) => (wake = r));
    }
  };
  return {
    next,
    command: (c: string) => child.stdin.write(`${c}\n`),
    report: async () => {
      const p = next('r');
      child.stdin.write('report\n');
      return JSON.parse(await p) as Report;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

test('the load generator counts each delivery once and times it', { timeout: 30_000 }, async () => {
  const gen = runGenerator(20);
  try {
    assert.equal(await gen.next('ready'), '20');
    gen.command('reset');
    gen.command('measure 1');
    const done = gen.next('latency-done');
    gen.command('latency 100 500'); // 50 messages
    await done;
    await new Promise((r) => setTimeout(r, 500));
    gen.command('measure 0');
    const lat = await gen.report();
    assert.equal(lat.sent, 50);
    assert.equal(lat.delivered, 50 * 20, 'every message reached every receiver, counted once');
    assert.equal(lat.samples, 50 * 20);
    assert.ok(lat.p50 > 0 && lat.p50 <= lat.p99 && lat.p99 < 1000, `plausible latencies: ${lat.p50} / ${lat.p99} ms`);

    // Saturation keeps a window in flight and never counts more than was sent to everyone.
    gen.command('reset');
    gen.command('saturate 50');
    await new Promise((r) => setTimeout(r, 700));
    gen.command('stop');
    await new Promise((r) => setTimeout(r, 300));
    const sat = await gen.report();
    const sent = sat.sent - 10_000_000;
    assert.ok(sent > 100, `the window was refilled as receivers progressed (${sent} sent)`);
    assert.ok(sat.delivered > 0 && sat.delivered <= sent * 20, `${sat.delivered} deliveries of ${sent} × 20`);
  } finally {
    gen.kill();
  }
});
