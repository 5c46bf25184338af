/**
 * Attack: frames a channel sends to EVERY receiver through `toAll` (SchemaAnnounce, StreamEnd,
 * source-status) skip every slow-receiver policy. A receiver that stops reading gets them all
 * queued without a bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestRelay, TestPeer, sleep } from '../support/relay-harness.js';
import { RawWs } from '../support/ws-garbage.js';
import { until } from '../support/wait.js';

function receiverQueued(relay: Awaited<ReturnType<typeof startTestRelay>>, ch: string): number {
  const c = relay.stats().channels.find((x) => x.name === ch);
  let max = 0;
  for (const l of c?.lag ?? []) max = Math.max(max, l.queuedBytes);
  return max;
}

test('SchemaAnnounce flood to a receiver that stops reading stays bounded', async () => {
  const relay = await startTestRelay({});
  try {
    const stalled = await RawWs.connect(`${relay.url}/stream/sch`);
    stalled.socket.pause(); // never reads again
    // It never answers the relay's ping: it goes live after the handshake wait.
    await until(() => [...(relay.channels.get('sch')?.receivers.values() ?? [])].some((r) => !r.pending), 10_000, 'the stalled receiver to go live');
    const src = await TestPeer.connect(`${relay.url}/source/sch`);
    const big = 'x'.repeat(200_000);
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      src.send({ kind: 'schema-announce', schema: { signals: [big + i], mode: 'signal' } });
      if (i % 20 === 19) {
        await sleep(30);
        peak = Math.max(peak, receiverQueued(relay, 'sch'));
      }
    }
    await sleep(500);
    peak = Math.max(peak, receiverQueued(relay, 'sch'));
    const closedByRelay = stalled.closeCode !== undefined || stalled.ended;
    // 40 MB sent; the receiver's queue must be bounded (8 MiB log bound, or closed with 4413).
    assert.ok(peak <= 16 * 1024 * 1024 || closedByRelay, `stalled receiver has ${peak} bytes queued and is still open`);
    stalled.destroy();
    src.ws.close();
  } finally {
    await relay.close(2000);
  }
});
