// The WebRTC media link between two real Chromium pages (host candidates on 127.0.0.1, no STUN),
// negotiated through a real relay's /signal route: it opens, frames arrive intact and in order
// (also one bigger than the data channel's message size), inputs go back, garbage on /signal
// breaks nothing, and whenever the link cannot be had or breaks the receiver is back on the
// relay's stream, which it received all along.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RelayOptions } from '../../src/relay/server.js';
import { launchChromium } from '../support/browser.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { webrtcPages } from './webrtc-pages.js';

const WAIT = { timeout: 15_000 };

interface Pair {
  relay: TestRelay;
  source: Page;
  receiver: Page;
  close(): Promise<void>;
}

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser.close();
});

async function open(relay: TestRelay, path: string, ch: string, opts: object, signal?: string): Promise<Page> {
  const page = await browser.newPage();
  const q = new URLSearchParams({ ch, opts: JSON.stringify(opts), ...(signal ? { signal } : {}) });
  await page.goto(`${relay.url.replace('ws:', 'http:')}${path}?${q}`);
  await page.waitForFunction(() => document.body.dataset.ready === '1', undefined, WAIT);
  return page;
}

async function pair(ch: string, o: { relay?: RelayOptions; source?: object; receiver?: object; signal?: string } = {}): Promise<Pair> {
  const relay = await startTestRelay({ httpRoutes: [webrtcPages], ...o.relay });
  const source = await open(relay, '/webrtc-source.html', ch, o.source ?? {});
  const receiver = await open(relay, '/webrtc-receiver.html', ch, o.receiver ?? {}, o.signal);
  return {
    relay,
    source,
    receiver,
    async close() {
      const errors = [...(await source.evaluate(() => (window as unknown as { errors: string[] }).errors)), ...(await receiver.evaluate(() => (window as unknown as { errors: string[] }).errors))];
      await source.close();
      await receiver.close();
      await relay.close();
      assert.deepEqual(errors, [], 'page errors');
    },
  };
}

type Win = Window & {
  publish(type: number, flags: number, n: number, length: number): number;
  rtc: Array<[number, number, boolean]>;
  relayFrames: Array<[number, number, boolean]>;
  transports: string[];
  states: string[];
  inputs: Array<{ peer: string; event: { input: string; x: number; y: number } }>;
  peerEvents: string[];
  keyframeCalls: number;
  sendPointer(x: number, y: number): boolean;
  sendBogusInput(): boolean;
  link: { transport: string; state: string; reason: string; id: string; stats: { ignoredSignals: number; dropped: number } };
  links: { id: string; openPeers: string[]; stats: Record<string, number>; fingerprint: Promise<string | undefined>; close(): void; peers: Map<string, { pc: RTCPeerConnection; media: RTCDataChannel }> };
};

const transport = (p: Page) => p.evaluate(() => (window as unknown as Win).link.transport);

describe('WebRTC media link (Chromium)', () => {
  it('opens, carries frames intact and in order (one above the message size), audio and inputs, despite garbage on /signal', { timeout: 60_000 }, async (t) => {
    const ch = 'rtc-open';
    // A hostile signaling peer on the channel, sending garbage before and during negotiation.
    const relay0 = await startTestRelay({ httpRoutes: [webrtcPages] });
    const hostile = await TestPeer.connect(`${relay0.url}/signal/${ch}`);
    const junk = (to?: string) => [
      'not json',
      '{"v":1',
      'null',
      '[]',
      '{"v":2,"from":"x","type":"hello","role":"receiver"}',
      '{"v":1,"from":"../../etc","type":"hello","role":"receiver"}',
      '{"v":1,"from":"evil","type":"hello","role":"king"}',
      '{"v":1,"from":"evil","type":"nope","role":"source"}',
      '{"v":1,"from":"evil","type":"offer","role":"source","sdp":"v=0"}', // offer with no addressee
      JSON.stringify({ v: 1, from: 'evil', type: 'hello', role: 'receiver', pad: 'x'.repeat(40_000) }), // too long
      JSON.stringify({ __proto__: { polluted: 1 }, v: 1, from: 'evil', type: 'hello', role: 'source' }),
      ...(to
        ? [
            JSON.stringify({ v: 1, from: 's-evil', to, type: 'offer', role: 'source', sdp: 'v=0\r\ngarbage\r\n' }),
            JSON.stringify({ v: 1, from: 'r-evil', to, type: 'answer', role: 'receiver', sdp: 'v=0\r\nnot an answer\r\n' }),
            JSON.stringify({ v: 1, from: 's-evil', to, type: 'candidate', role: 'source', candidate: { candidate: 'candidate:garbage', sdpMid: '0', sdpMLineIndex: 0 } }),
            JSON.stringify({ v: 1, from: 's-evil', to, type: 'candidate', role: 'source', candidate: { candidate: 'x', sdpMLineIndex: -5 } }),
            JSON.stringify({ v: 1, from: 's-evil', to, type: 'offer', role: 'source', sdp: 'x'.repeat(20_000) }),
          ]
        : []),
    ];
    for (const s of junk()) hostile.sendRaw(s);
    const source = await open(relay0, '/webrtc-source.html', ch, {});
    const sourceId = await source.evaluate(() => (window as unknown as Win).links.id);
    for (const s of junk(sourceId)) hostile.sendRaw(s);
    const receiver = await open(relay0, '/webrtc-receiver.html', ch, {});
    const p: Pair = {
      relay: relay0,
      source,
      receiver,
      async close() {
        await source.close();
        await receiver.close();
        await relay0.close();
      },
    };
    t.after(() => p.close());
    // Garbage addressed to the receiver's attempt id as soon as it is known.
    const receiverId = await receiver.evaluate(() => (window as unknown as Win).link.id);
    for (const s of junk(receiverId)) hostile.sendRaw(s);
    // A forged answer posing as the receiver: the source ignores what does not apply.
    hostile.sendRaw(JSON.stringify({ v: 1, from: receiverId, to: sourceId, type: 'answer', role: 'receiver', sdp: 'v=0\r\nforged\r\n' }));

    await receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);
    await source.waitForFunction(() => (window as unknown as Win).links.openPeers.length === 1, undefined, WAIT);
    // After the link is open, garbage (even a forged bye from the source's id) changes nothing.
    hostile.sendRaw(JSON.stringify({ v: 1, from: sourceId, to: receiverId, type: 'bye', role: 'source', reason: 'forged' }));
    for (const s of junk(receiverId)) hostile.sendRaw(s);
    for (const s of junk(sourceId)) hostile.sendRaw(s);

    // The first frame is a delta: this peer needs a keyframe, so it gets the provider's instead.
    const sizes = [100, 1000, 70_000, 600_000, 16, 0, 5000];
    await source.evaluate((sizes) => {
      const w = window as unknown as Win;
      w.publish(0x03, 0, 1, 32); // DeltaPixels → replaced by a Keyframe for this peer
      let n = 2;
      for (const s of sizes) w.publish(0x03, 0, n++, s);
      w.publish(0x10, 0, n++, 800); // AudioPcm on the lossy channel
      w.publish(0x01, 0x02, n++, 64); // Pixels
    }, sizes);
    const want: Array<[number, number, boolean]> = [[0xf0, 1, true], ...sizes.map((_, i): [number, number, boolean] => [0x03, i + 2, true])];
    await receiver.waitForFunction((n) => (window as unknown as Win).rtc.length >= n, want.length + 2, WAIT);
    const got = await receiver.evaluate(() => (window as unknown as Win).rtc);
    // Audio is unordered: it may overtake; everything on the ordered channel keeps its order.
    const audio = got.filter((f) => f[0] === 0x10);
    const ordered = got.filter((f) => f[0] !== 0x10);
    assert.deepEqual(ordered, [...want, [0x01, sizes.length + 3, true]]);
    assert.deepEqual(audio, [[0x10, sizes.length + 2, true]]);
    assert.equal(await source.evaluate(() => (window as unknown as Win).keyframeCalls), 1);
    // The relay's copy arrives as well (the receiver keeps both paths). The relay checks deltas
    // and refuses these made-up ones, but forwards the Pixels frame.
    await receiver.waitForFunction((n) => (window as unknown as Win).relayFrames.some((f) => f[0] === 0x01 && f[1] === n && f[2]), sizes.length + 3, WAIT);

    // Inputs go back over the channel and arrive decoded; a non-input frame is refused.
    assert.equal(await receiver.evaluate(() => (window as unknown as Win).sendBogusInput()), true);
    assert.equal(await receiver.evaluate(() => (window as unknown as Win).sendPointer(12, 34)), true);
    assert.equal(await receiver.evaluate(() => (window as unknown as { sendKey(k: string): boolean }).sendKey('a')), true);
    await source.waitForFunction(() => (window as unknown as Win).inputs.length >= 2, undefined, WAIT);
    const inputs = await source.evaluate(() => (window as unknown as Win).inputs);
    assert.equal(inputs.length, 2);
    assert.equal(inputs[0]!.peer, receiverId);
    assert.deepEqual(inputs[0]!.event, { input: 'pointer', x: 12, y: 34, buttons: 1, phase: 1 });
    assert.deepEqual(inputs[1]!.event, { input: 'key', keyCode: 65, modifiers: 0, phase: 0, key: 'a' });
    // The 'message' event carries the decodable frames decoded (the made-up deltas need not be).
    const decoded = await receiver.evaluate(() => (window as unknown as { decoded: string[] }).decoded);
    assert.ok(decoded.includes('keyframe') && decoded.includes('pixels') && decoded.includes('audio-pcm'), decoded.join(','));
    assert.equal(await source.evaluate(() => (window as unknown as Win).links.stats.inputsDropped), 1);

    assert.equal(await transport(receiver), 'webrtc', 'still linked after the garbage');
    assert.ok((await receiver.evaluate(() => (window as unknown as Win).link.stats.ignoredSignals)) >= 0);
    for (const page of [source, receiver]) assert.deepEqual(await page.evaluate(() => (window as unknown as { errors: string[] }).errors), []);
    hostile.ws.close();
  });

  it('with /signal refused the receiver stays on websocket and gets the relay stream', { timeout: 30_000 }, async (t) => {
    const p = await pair('rtc-refused', {
      relay: { authorize: (req) => (req.role === 'signal' ? { ok: false, code: 4403, reason: 'no signaling here' } : { ok: true }) },
      receiver: { timeoutMs: 10_000, retryMs: 200 },
    });
    t.after(() => p.close());
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.state === 'failed', undefined, WAIT);
    assert.match(await p.receiver.evaluate(() => (window as unknown as Win).link.reason), /4403/);
    await p.source.evaluate(() => {
      for (let n = 1; n <= 5; n++) (window as unknown as Win).publish(0x01, 0x02, n, 64);
    });
    await p.receiver.waitForFunction(() => (window as unknown as Win).relayFrames.length >= 5, undefined, WAIT);
    const w = await p.receiver.evaluate(() => {
      const x = window as unknown as Win;
      return { transport: x.link.transport, rtc: x.rtc.length, transports: x.transports, frames: x.relayFrames, attempts: (x.link.stats as unknown as { attempts: number }).attempts };
    });
    assert.equal(w.transport, 'websocket');
    assert.equal(w.rtc, 0);
    assert.deepEqual(w.transports, []);
    // 4403 is final: no retry loop against a relay that refuses.
    assert.equal(w.attempts, 1);
    assert.deepEqual(w.frames.map((f) => f[1]), [1, 2, 3, 4, 5]);
  });

  it('an offer from anyone but the pinned source fingerprint is not taken', { timeout: 30_000 }, async (t) => {
    const p = await pair('rtc-pinned', { receiver: { timeoutMs: 1500, sourceFingerprint: 'sha-256 00:11:22' } });
    t.after(() => p.close());
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.state === 'failed', undefined, WAIT);
    assert.match(await p.receiver.evaluate(() => (window as unknown as Win).link.reason), /timed out/);
    assert.ok((await p.receiver.evaluate(() => (window as unknown as Win).link.stats.ignoredSignals)) >= 1, 'the offer was seen and refused');
    assert.equal(await transport(p.receiver), 'websocket');
    // Pinned to the source's real fingerprint (which the source would publish through the relay): linked.
    const fp = await p.source.evaluate(() => (window as unknown as Win).links.fingerprint);
    const pinned = await open(p.relay, '/webrtc-receiver.html', 'rtc-pinned', { sourceFingerprint: fp });
    t.after(() => pinned.close());
    await pinned.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);
  });

  it('without a keyframe provider, deltas are withheld from a new peer until a full picture, and it asks again', { timeout: 30_000 }, async (t) => {
    const p = await pair('rtc-nokey', { source: { noKeyframe: true } });
    t.after(() => p.close());
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);
    await p.source.waitForFunction(() => (window as unknown as { keyframeAsks: number }).keyframeAsks >= 1, undefined, WAIT);
    await p.source.evaluate(() => (window as unknown as Win).publish(0x03, 0, 1, 64));
    // Asked again once 250 ms have passed and a delta had to be withheld.
    await p.source.waitForFunction(
      () => {
        const w = window as unknown as Win & { keyframeAsks: number };
        w.publish(0x03, 0, 2, 64);
        return w.keyframeAsks >= 2;
      },
      undefined,
      { ...WAIT, polling: 100 },
    );
    await p.source.evaluate(() => {
      const w = window as unknown as Win;
      w.publish(0x01, 0x02, 3, 64);
      w.publish(0x03, 0, 4, 64);
    });
    await p.receiver.waitForFunction(() => (window as unknown as Win).rtc.length >= 2, undefined, WAIT);
    assert.deepEqual(await p.receiver.evaluate(() => (window as unknown as Win).rtc), [
      [0x01, 3, true],
      [0x03, 4, true],
    ]);
  });

  it('a link older than maxLinkMs is closed; the receiver falls back and links again through /signal', { timeout: 30_000 }, async (t) => {
    const p = await pair('rtc-age', { source: { maxLinkMs: 1000 }, receiver: { retryMs: 200 } });
    t.after(() => p.close());
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);
    await p.receiver.waitForFunction(() => (window as unknown as Win).transports.filter((x) => x === 'webrtc').length >= 2, undefined, WAIT);
    const w = await p.receiver.evaluate(() => (window as unknown as Win).transports);
    assert.deepEqual(w.slice(0, 3), ['webrtc', 'websocket', 'webrtc']);
    assert.ok((await p.source.evaluate(() => (window as unknown as Win).peerEvents)).includes('closed:link age limit'));
  });

  it('falls back to the relay when the data channel or the peer connection closes, and when it stalls', { timeout: 60_000 }, async (t) => {
    const p = await pair('rtc-fallback', { source: { heartbeatMs: 200, signalRetryMs: 200 }, receiver: { retryMs: 300, stallMs: 1000 } });
    t.after(() => p.close());
    const fp = await p.source.evaluate(() => (window as unknown as Win).links.fingerprint);
    assert.match(fp ?? '', /^sha-256 [0-9A-F:]+$/);
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);

    // 1. The source closes the data channel mid-stream. (The 64-byte deltas of frames 2 and 3 have
    // no zero byte, so they are valid all-literal 4×4 deltas and the relay forwards them too.)
    await p.source.evaluate(() => {
      const w = window as unknown as Win;
      w.publish(0x01, 0x02, 1, 64);
      [...w.links.peers.values()][0]!.media.close();
      w.publish(0x03, 0, 2, 64);
    });
    await p.receiver.waitForFunction(() => (window as unknown as Win).transports.includes('websocket'), undefined, WAIT);
    // It retries, links again, and the first picture on the new link is a full one.
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);
    await p.source.waitForFunction(() => (window as unknown as Win).links.openPeers.length === 1, undefined, WAIT);
    await p.source.evaluate(() => (window as unknown as Win).publish(0x03, 0, 3, 64));
    await p.receiver.waitForFunction(() => (window as unknown as Win).rtc.some((f) => f[1] === 3), undefined, WAIT);
    const afterRelink = await p.receiver.evaluate(() => (window as unknown as Win).rtc.filter((f) => f[1] === 3));
    assert.deepEqual(afterRelink, [[0xf0, 3, true]]);

    // 2. The source's peer connection closes.
    await p.source.evaluate(() => [...(window as unknown as Win).links.peers.values()][0]!.pc.close());
    await p.receiver.waitForFunction(() => (window as unknown as Win).transports.filter((x) => x === 'websocket').length === 2, undefined, WAIT);
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);

    // 3. The source goes silent (no heartbeats: its links are closed without a word, as if frozen).
    await p.source.evaluate(() => {
      const w = window as unknown as Win;
      clearInterval((w.links as unknown as { heartbeat: number }).heartbeat);
    });
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.state === 'stalled', undefined, WAIT);
    assert.equal(await transport(p.receiver), 'websocket');
    // Data again: back on WebRTC.
    await p.source.evaluate(() => (window as unknown as Win).publish(0x01, 0x02, 4, 64));
    await p.receiver.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);

    // All along, the relay's stream had every frame.
    await p.receiver.waitForFunction(() => (window as unknown as Win).relayFrames.length >= 4, undefined, WAIT);
    assert.deepEqual(await p.receiver.evaluate(() => (window as unknown as Win).relayFrames.map((f) => f[1])), [1, 2, 3, 4]);
    const states = await p.receiver.evaluate(() => (window as unknown as Win).states);
    assert.ok(states.some((s) => s.startsWith('failed:data channel closed')) || states.some((s) => s.startsWith('failed:connection')), states.join(', '));

    // 4. The source's /signal socket drops: the open link is unaffected, and the source reconnects
    // to signaling so a new receiver still links.
    await p.source.evaluate(() => (window as unknown as { links: { signaling: { ws: WebSocket } } }).links.signaling.ws.close());
    const late = await open(p.relay, '/webrtc-receiver.html', 'rtc-fallback', { retryMs: 300 });
    t.after(() => late.close());
    await late.waitForFunction(() => (window as unknown as Win).link.transport === 'webrtc', undefined, WAIT);
    // (Its heartbeats are off since step 3, so it may read as stalled, but its link is alive.)
    assert.match(await p.receiver.evaluate(() => (window as unknown as Win).link.state), /^(open|stalled)$/);
  });
});
