/**
 * Attack: per-diff work is proportional to the channel's STATE, not to the diff. With 20,000
 * top-level fields (a ~300 KB sync, well within limits), each 30-byte SignalDiff costs the relay
 * ~25–60 ms (applyPatch copies the whole top-level object, with defineProperty per key). 100 such
 * diffs — 3 KB on the wire — freeze the whole relay for seconds: /healthz and every other
 * channel's receivers wait. A state keyed by ids updated at 50 Hz does the same without malice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage } from '../../src/protocol/message.js';
import { spawnRelay, TestPeer, sleep } from '../support/relay-harness.js';

test('tiny diffs on a wide state do not stall the relay', async () => {
  const relay = await spawnRelay([]);
  try {
    const atk = await TestPeer.connect(`${relay.url}/source/wide`);
    const wide: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) wide[`k${i}`] = i;
    atk.send({ kind: 'signal-sync', state: wide });
    await sleep(1000);
    const a = encodeMessage({ kind: 'signal-diff', diff: { k1: 7 } });
    const b = encodeMessage({ kind: 'signal-diff', diff: { k1: 8 } });
    for (let i = 0; i < 100; i++) atk.sendRaw(i % 2 ? a : b);
    await sleep(50);
    const t = Date.now();
    const res = await fetch(`${relay.http}/healthz`);
    const ms = Date.now() - t;
    assert.equal(res.status, 200);
    assert.ok(ms < 500, `/healthz took ${ms} ms while the relay applied 100 tiny diffs (3 KB) to a 20,000-field state`);
    atk.ws.close();
    relay.assertHealthy();
  } finally {
    relay.kill();
  }
});
