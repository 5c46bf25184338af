/**
 * The fan-out benchmark's measuring tool, checked against a real relay: the C load generator must
 * count every delivery exactly once (a miscount would make every ratio in docs/benchmarks.md
 * wrong) and time each one from its stamp.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADAPTERS } from '../../bench/fanout/adapters.js';
import { buildGenerator } from '../../bench/fanout/build-generator.js';
import { startGenerator } from '../../bench/fanout/generator-process.js';
import type { Relay } from '../../src/relay/server.js';
import { startTestRelay } from '../support/relay-harness.js';

let relay: Relay;
let generatorBin: string;

before(async () => {
  generatorBin = buildGenerator();
  relay = await startTestRelay({ maxFramesPerSecond: 1_000_000 });
});
after(() => relay.close());

const runGenerator = (receivers: number) => startGenerator({ binary: generatorBin, host: '127.0.0.1', port: relay.port, adapter: ADAPTERS.sluice!, receivers });

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
