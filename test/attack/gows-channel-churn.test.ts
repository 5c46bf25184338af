/**
 * Attack: the per-connection /ws subscription cap (--max-ws-subscriptions) counts only CURRENT
 * subscriptions. Subscribe + unsubscribe to fresh names creates a channel each time, and each
 * stays for the grace period (30 s) — one /ws connection fills every channel slot in well under a
 * second, and every other client that needs a new channel (a new source!) gets 4509 NoCapacity.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { startTestRelay, TestPeer, sleep } from '../support/relay-harness.js';

test('one /ws connection cannot take every channel slot by subscribe/unsubscribe churn', async () => {
  const relay = await startTestRelay({ maxChannels: 300 });
  try {
    const ws = new WebSocket(`${relay.url}/ws`);
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    // Batches under the cap: subscribe 90, let them land, unsubscribe them, next batch.
    for (let b = 0; b < 4; b++) {
      for (let i = 0; i < 90; i++) ws.send(JSON.stringify({ type: 'subscribe', data: `churn-${b}-${i}` }));
      await sleep(100);
      for (let i = 0; i < 90; i++) ws.send(JSON.stringify({ type: 'unsubscribe', data: `churn-${b}-${i}` }));
      await sleep(50);
    }
    await sleep(800);
    const src = await TestPeer.connect(`${relay.url}/source/legit`);
    await sleep(300);
    assert.notEqual(src.closeCode, 4509, `a new source was refused: ${src.closeCode} ${src.closeReason} (channels: ${relay.stats().channelCount})`);
    ws.close();
    src.ws.close();
  } finally {
    await relay.close(1000);
  }
});
