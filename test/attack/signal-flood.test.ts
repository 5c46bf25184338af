// Attacks on /signal/{channel} at the relay (Node level, real sockets): a big signaling text fanned
// out to peers that never read, floods of small texts, binary frames and invalid UTF-8. The relay
// must stay alive, keep serving the peers that read, and hold no more than the documented
// --signal-max-bytes for any signaling peer.
import assert from 'node:assert/strict';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { describe, it } from 'node:test';
import { TestPeer, internalErrors, startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const MiB = 1024 * 1024;

describe('attack: signaling flood against the relay', () => {
  it('a signaling peer that never reads holds at most --signal-max-bytes at the relay, even for one big text', async (t) => {
    const relay = await startTestRelay({ signalMaxBytes: 256 * 1024, maxPayload: 8 * MiB });
    const peers: TestPeer[] = [];
    t.after(async () => {
      for (const p of peers) p.ws.terminate();
      await relay.close();
    });
    const ch = 'sig-big';
    const sender = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    peers.push(sender);
    for (let i = 0; i < 6; i++) {
      const p = await TestPeer.connect(`${relay.url}/signal/${ch}`);
      p.pauseReading();
      peers.push(p);
    }
    await until(() => relay.channels.get(ch)?.signalPeers.size === 7, 5000, 'seven signaling peers');
    // One text message of 6 MiB: legal by maxPayload, 24× the per-peer signaling bound.
    sender.sendRaw('x'.repeat(6 * MiB));
    // Fixed: a text over --signal-max-bytes closes its sender (1009) and reaches nobody.
    await until(() => sender.closeCode !== undefined || (relay.channels.get(ch)?.stats.framesOut ?? 0) >= 6, 10_000, 'the fan-out or the refusal');
    assert.equal(sender.closeCode, CloseCode.TooLarge);
    const held = [...relay.channels.get(ch)!.signalPeers].filter((p) => p !== undefined).map((p) => p.queuedBytes);
    const worst = Math.max(...held);
    // Measured before the fix: each stalled peer held the whole 6 MiB text (the bound is checked before the send,
    // not after, and no per-message size below maxPayload applies): 6 peers × 6 MiB = 36 MiB.
    assert.ok(worst <= 256 * 1024 + 64 * 1024, `a stalled signaling peer holds ${worst} bytes at the relay; --signal-max-bytes is ${256 * 1024} (all: ${held.join(', ')})`);
  });

  it('a flood of small texts closes the stalled peer with 4413 while a reading peer gets every text, and the relay stays alive', async (t) => {
    const relay = await startTestRelay({ signalMaxBytes: 64 * 1024 });
    const peers: TestPeer[] = [];
    t.after(async () => {
      for (const p of peers) p.ws.terminate();
      await relay.close();
    });
    const ch = 'sig-flood';
    const sender = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    const reader = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    const stalled = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    peers.push(sender, reader, stalled);
    stalled.pauseReading();
    await until(() => relay.channels.get(ch)?.signalPeers.size === 3, 5000, 'three signaling peers');
    const text = JSON.stringify({ type: 'candidate', candidate: 'c'.repeat(900) });
    const N = 3000;
    for (let i = 0; i < N; i++) sender.sendRaw(text);
    await reader.until(() => reader.texts.length === N, 20_000, `all ${N} texts at the reading peer`);
    await until(() => relay.channels.get(ch)!.signalPeers.size === 2 || [...relay.channels.get(ch)!.signalPeers].every((p) => p.queuedBytes <= 64 * 1024 + 2048), 10_000, 'the stalled peer is bounded or gone');
    for (const p of relay.channels.get(ch)!.signalPeers) assert.ok(p.queuedBytes <= 64 * 1024 + 2048, `a signaling peer holds ${p.queuedBytes} bytes`);
    // The relay still answers a new peer.
    const late = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    peers.push(late);
    await until(() => relay.channels.get(ch)!.signalPeers.has([...relay.channels.get(ch)!.signalPeers].at(-1)!), 5000, 'the late peer');
    sender.sendRaw('hello');
    await late.until(() => late.texts.includes('hello'), 5000, 'a text to the late peer');
    assert.equal(internalErrors(relay), 0);
  });

  it('binary frames and invalid UTF-8 close only the offender; other peers keep signaling', async (t) => {
    const relay = await startTestRelay();
    const peers: TestPeer[] = [];
    t.after(async () => {
      for (const p of peers) p.ws.terminate();
      await relay.close();
    });
    const ch = 'sig-bad';
    const a = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    const b = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    const bin = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    const utf = await TestPeer.connect(`${relay.url}/signal/${ch}`);
    peers.push(a, b, bin, utf);
    bin.sendRaw(new Uint8Array([0xa0, 1, 2, 3]));
    // An invalid UTF-8 text frame: the ws client checks nothing on send when given a Buffer as text.
    utf.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]), { binary: false });
    const [c1, c2] = await Promise.all([bin.waitClose(5000), utf.waitClose(5000)]);
    assert.ok(c1 >= 4000 || c1 === 1003 || c1 === 1007, `binary: close ${c1}`);
    assert.ok(c2 === 1007 || c2 >= 4000, `invalid UTF-8: close ${c2}`);
    a.sendRaw('{"type":"offer"}');
    await b.until(() => b.texts.includes('{"type":"offer"}'), 5000, 'the offer');
    assert.equal(internalErrors(relay), 0);
  });

  it('signaling peers per channel are capped like receivers (--max-receivers)', async (t) => {
    const relay = await startTestRelay({ maxReceiversPerChannel: 2 });
    const peers: TestPeer[] = [];
    t.after(async () => {
      for (const p of peers) p.ws.terminate();
      await relay.close();
    });
    for (let i = 0; i < 2; i++) peers.push(await TestPeer.connect(`${relay.url}/signal/capped`));
    await until(() => relay.channels.get('capped')?.signalPeers.size === 2, 5000, 'two signaling peers');
    const third = await TestPeer.connect(`${relay.url}/signal/capped`).catch((e: unknown) => e);
    const code = third instanceof TestPeer ? await third.waitClose() : undefined;
    if (third instanceof TestPeer) peers.push(third);
    assert.equal(code ?? CloseCode.NoCapacity, CloseCode.NoCapacity);
    assert.equal(relay.channels.get('capped')?.signalPeers.size, 2);
  });
});
