import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import type { Message } from '../../src/protocol/message.js';
import { TEST_TRANSPORT, TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

const line = (text: string): Message => ({ kind: 'log-record', offset: 0, time: Date.now(), stream: 'stdout', data: new TextEncoder().encode(text) });
const texts = (p: TestPeer) => p.messages('log-record').map((m) => (m.kind === 'log-record' ? `${m.offset}:${new TextDecoder().decode(m.data)}` : ''));

describe('log channels', () => {
  it('assigns dense offsets, replays history to late joiners, then goes live', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/log`);
    for (let i = 0; i < 5; i++) src.send({ ...line(`line ${i}`), offset: 999 } as Message);
    const early = await TestPeer.connect(`${relay.url}/stream/log`);
    await early.until(() => texts(early).length === 5);
    assert.deepEqual(texts(early), ['0:line 0', '1:line 1', '2:line 2', '3:line 3', '4:line 4']);
    src.send(line('line 5'));
    await early.until(() => texts(early).length === 6);
    assert.equal(texts(early)[5], '5:line 5');
  });

  it('resumes from an offset with no gap and no duplicate, or says the history was truncated', async (t) => {
    const relay = await startTestRelay({ logRetainRecords: 10 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/rl`);
    for (let i = 0; i < 8; i++) src.send(line(`l${i}`));
    const a = await TestPeer.connect(`${relay.url}/stream/rl`);
    await a.until(() => texts(a).length === 8);
    const resumed = await TestPeer.connect(`${relay.url}/stream/rl?resume=6`);
    await resumed.until(() => texts(resumed).length === 2);
    assert.deepEqual(texts(resumed), ['6:l6', '7:l7']);
    for (let i = 8; i < 30; i++) src.send(line(`l${i}`));
    await a.until(() => texts(a).length === 30);
    const tooOld = await TestPeer.connect(`${relay.url}/stream/rl?resume=3`);
    const tr = await tooOld.next('history-truncated');
    assert.deepEqual([tr.requested, tr.firstAvailable], [3, 20]);
    await tooOld.until(() => texts(tooOld).length === 10);
    assert.equal(texts(tooOld)[0], '20:l20');
    // A Resume frame mid-connection works the same way.
    tooOld.send({ kind: 'resume', offset: 28 });
    await tooOld.until(() => texts(tooOld).length === 12);
    assert.deepEqual(texts(tooOld).slice(10), ['28:l28', '29:l29']);
  });

  it('closes a log receiver that stops reading with 4413 once its buffer passes the bound', async (t) => {
    const relay = await startTestRelay({ logReceiverMaxBytes: 2 * 1024 * 1024, maxFramesPerSecond: 1e6 });
    t.after(() => relay.close());
    const src = await TestPeer.connect(`${relay.url}/source/slowlog`);
    const slow = await TestPeer.connect(`${relay.url}/stream/slowlog`);
    const fast = await TestPeer.connect(`${relay.url}/stream/slowlog`);
    await slow.next('welcome');
    await fast.next('welcome');
    slow.pauseReading();
    const payload = 'x'.repeat(1000);
    for (let i = 0; i < 20_000; i++) {
      src.send(line(`${i} ${payload}`));
      // Pace the source a little so this one process can also read as the fast receiver.
      if (i % 200 === 199) await sleep(2);
    }
    await fast.until(() => texts(fast).length === 20_000, 20_000, 'fast receiver gets every line');
    slow.resumeReading();
    // uWS gives a peer that does not read its close frame a few seconds, then cuts it (1006);
    // either way it resumes from its last offset (docs/relay.md, Transports).
    const code = await slow.waitClose(10_000);
    if (TEST_TRANSPORT === 'uws') assert.ok(code === CloseCode.TooSlow || code === 1006, `closed with ${code}`);
    else assert.equal(code, CloseCode.TooSlow);
    assert.ok(relay.channels.get('slowlog')!.stats.tooSlowCloses >= 1);
    // It resumes from its last offset and gets exactly the rest.
    const got = texts(slow);
    const last = Number(got[got.length - 1]!.split(':')[0]);
    const again = await TestPeer.connect(`${relay.url}/stream/slowlog?resume=${last + 1}`);
    await again.until(() => texts(again).length === 20_000 - (last + 1), 20_000, 'the rest');
    const all = [...got, ...texts(again)].map((s) => Number(s.split(':')[0]));
    assert.deepEqual(all, Array.from({ length: 20_000 }, (_, i) => i));
    await sleep(10);
  });
});
