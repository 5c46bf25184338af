/**
 * Attack: the merged state of a channel has no bound. Each SignalDiff stays under
 * --max-json-payload (1 MiB), but diffs that add new fields grow the relay's state without limit
 * (memory per channel), and every late joiner's catch-up SignalSync is then far larger than the
 * maximum JSON payload the protocol says peers refuse (docs/protocol.md "JSON payloads": larger
 * is `too-large`, close 1009) — a conforming client with default limits can never join.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessage } from '../../src/protocol/message.js';
import { startTestRelay, TestPeer, sleep } from '../support/relay-harness.js';

test('a channel state grown by in-limit diffs stays within the JSON payload bound', async () => {
  const relay = await startTestRelay({});
  try {
    const src = await TestPeer.connect(`${relay.url}/source/grow`);
    src.send({ kind: 'signal-sync', state: {} });
    for (let i = 0; i < 40; i++) {
      src.send({ kind: 'signal-diff', diff: { [`f${i}`]: 'z'.repeat(900_000) } });
      if (i % 10 === 9) await sleep(50);
    }
    await sleep(500);
    const late = await TestPeer.connect(`${relay.url}/stream/grow`);
    await late.until(() => late.received.some((r) => r.bytes[0] === 0x30), 10_000, 'catch-up sync');
    const sync = late.received.find((r) => r.bytes[0] === 0x30)!;
    const payload = sync.bytes.length - 16;
    await sleep(500);
    const closed = late.closeCode === undefined ? "" : ` and the joiner was then closed ${late.closeCode} ${late.closeReason}`;
    let refusedByConformingPeer = '';
    try {
      // Frames from the relay are decoded with the JSON limit at the Welcome's maxPayload (docs/protocol.md).
      decodeMessage(sync.bytes, { maxPayload: 16 * 1024 * 1024, maxJsonPayload: 16 * 1024 * 1024 });
    } catch (e) {
      refusedByConformingPeer = (e as Error).message;
    }
    assert.equal(
      refusedByConformingPeer,
      '',
      `source was never refused (errors to source: ${src.messages('error').length}); late joiner's SignalSync is ${payload} bytes${closed}: ${refusedByConformingPeer}`,
    );
    assert.ok(src.messages('error').length > 0, 'the source was told its updates were refused');
    assert.ok(payload <= 16 * 1024 * 1024);
    assert.equal(late.closeCode, undefined, 'the joiner stays connected');
    late.ws.close();
    src.ws.close();
  } finally {
    await relay.close(2000);
  }
});
