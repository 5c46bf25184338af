// The WebRTC link's pure parts in Node: the /signal message parser (hostile input), chunking and
// bounded reassembly, frame routing, and the clean fallback where there is no RTCPeerConnection.
// The signaling client is tested against a real relay with a hostile peer on the channel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeMessage } from '../../src/protocol/message.js';
import { ChunkTag, HEARTBEAT, Reassembler, chunkFrame } from '../../src/client/webrtc-chunks.js';
import { frameRoute, wellFramed } from '../../src/client/webrtc-common.js';
import { ReceiverMediaLink, SourceMediaLinks } from '../../src/client/webrtc-link.js';
import { MAX_SIGNAL_TEXT, SignalingClient, newPeerId, parseSignal, sdpFingerprint, signalUrlFor } from '../../src/client/webrtc-signaling.js';
import type { SignalMessage } from '../../src/client/webrtc-signaling.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import { rng } from '../support/rng.js';
import { until } from '../support/wait.js';

describe('webrtc signaling messages', () => {
  it('parses the five message types', () => {
    assert.deepEqual(parseSignal('{"v":1,"from":"r-1","type":"hello","role":"receiver"}'), { v: 1, from: 'r-1', role: 'receiver', type: 'hello' });
    assert.deepEqual(parseSignal('{"v":1,"from":"s-1","to":"r-1","type":"offer","role":"source","sdp":"v=0"}'), { v: 1, from: 's-1', to: 'r-1', role: 'source', type: 'offer', sdp: 'v=0' });
    assert.equal(parseSignal('{"v":1,"from":"r-1","to":"s-1","type":"answer","role":"receiver","sdp":"v=0"}')?.type, 'answer');
    assert.deepEqual(parseSignal('{"v":1,"from":"s-1","to":"r-1","type":"candidate","role":"source","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}'), {
      v: 1,
      from: 's-1',
      to: 'r-1',
      role: 'source',
      type: 'candidate',
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
    });
    assert.deepEqual(parseSignal('{"v":1,"from":"s-1","to":"r-1","type":"bye","role":"source","reason":"full"}'), { v: 1, from: 's-1', to: 'r-1', role: 'source', type: 'bye', reason: 'full' });
    // Unknown extra fields are dropped, not carried along.
    assert.deepEqual(parseSignal('{"v":1,"from":"r-1","type":"hello","role":"receiver","x":{"y":1}}'), { v: 1, from: 'r-1', role: 'receiver', type: 'hello' });
  });

  it('refuses malformed, unknown, unaddressed and oversized messages', () => {
    const bad: unknown[] = [
      undefined,
      42,
      new Uint8Array(3),
      '',
      'hello',
      'null',
      '[]',
      '"str"',
      '{"v":1',
      '{"v":2,"from":"a","type":"hello","role":"receiver"}',
      '{"v":"1","from":"a","type":"hello","role":"receiver"}',
      '{"v":1,"type":"hello","role":"receiver"}',
      '{"v":1,"from":"","type":"hello","role":"receiver"}',
      '{"v":1,"from":"a b","type":"hello","role":"receiver"}',
      `{"v":1,"from":"${'a'.repeat(65)}","type":"hello","role":"receiver"}`,
      '{"v":1,"from":"a","to":5,"type":"hello","role":"receiver"}',
      '{"v":1,"from":"a","type":"hello","role":"admin"}',
      '{"v":1,"from":"a","type":"hello"}',
      '{"v":1,"from":"a","type":"rekey","role":"source"}',
      '{"v":1,"from":"a","type":"offer","role":"source","sdp":"v=0"}', // no addressee
      '{"v":1,"from":"a","to":"b","type":"offer","role":"source"}',
      '{"v":1,"from":"a","to":"b","type":"offer","role":"source","sdp":""}',
      `{"v":1,"from":"a","to":"b","type":"offer","role":"source","sdp":"${'x'.repeat(17_000)}"}`,
      '{"v":1,"from":"a","to":"b","type":"candidate","role":"source"}',
      '{"v":1,"from":"a","to":"b","type":"candidate","role":"source","candidate":"x"}',
      '{"v":1,"from":"a","to":"b","type":"candidate","role":"source","candidate":{"candidate":5}}',
      `{"v":1,"from":"a","to":"b","type":"candidate","role":"source","candidate":{"candidate":"${'x'.repeat(2000)}"}}`,
      '{"v":1,"from":"a","to":"b","type":"candidate","role":"source","candidate":{"candidate":"c","sdpMLineIndex":-1}}',
      '{"v":1,"from":"a","to":"b","type":"candidate","role":"source","candidate":{"candidate":"c","sdpMLineIndex":1.5}}',
      '{"v":1,"from":"a","to":"b","type":"candidate","role":"source","candidate":{"candidate":"c","sdpMid":{}}}',
      '{"v":1,"from":"a","type":"bye","role":"source"}',
      JSON.stringify({ v: 1, from: 'a', type: 'hello', role: 'receiver', pad: 'x'.repeat(MAX_SIGNAL_TEXT) }),
    ];
    for (const b of bad) assert.equal(parseSignal(b), undefined, String(b).slice(0, 80));
    // __proto__ in the text does not reach any prototype.
    const m = parseSignal('{"__proto__":{"polluted":1},"v":1,"from":"a","type":"hello","role":"receiver"}');
    assert.equal((m as unknown as { polluted?: number } | undefined)?.polluted, undefined);
    assert.equal(({} as { polluted?: number }).polluted, undefined);
  });

  it('never throws on random text', () => {
    const r = rng(14);
    const pieces = ['{', '}', '"v":1', '"from":"a"', '"to":"b"', '"type":', '"offer"', '"candidate"', '"role":"source"', ',', ':', '[', ']', 'null', '"sdp":"v=0"', '"candidate":{', '1e999', '"\\u0000"'];
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const n = Math.floor(r() * 12);
      for (let k = 0; k < n; k++) s += pieces[Math.floor(r() * pieces.length)]!;
      parseSignal(s);
    }
  });

  it('reads the fingerprint from an SDP and builds /signal URLs', () => {
    assert.equal(sdpFingerprint('v=0\r\na=setup:actpass\r\na=fingerprint:SHA-256 ab:cd:EF\r\n'), 'sha-256 AB:CD:EF');
    assert.equal(sdpFingerprint('v=0\r\n'), undefined);
    assert.equal(signalUrlFor('ws://h:1/stream/game?token=t&batch=1&select=a'), 'ws://h:1/signal/game?token=t');
    assert.equal(signalUrlFor('wss://h/source/a:b'), 'wss://h/signal/a:b');
    assert.equal(signalUrlFor('ws://h/stream'), 'ws://h/signal');
    assert.match(newPeerId('source'), /^s-[0-9a-f]{16}$/);
    assert.notEqual(newPeerId('receiver'), newPeerId('receiver'));
  });
});

describe('webrtc chunks', () => {
  const frameOf = (n: number) => {
    const f = new Uint8Array(n);
    for (let i = 0; i < n; i++) f[i] = (i * 13 + 7) & 0xff;
    return f;
  };

  it('round-trips frames of every size around the chunk boundaries', () => {
    const r = new Reassembler(1 << 20);
    for (const max of [16, 100, 65536]) {
      for (const n of [0, 1, max - 2, max - 1, max, max + 1, max * 3, max * 3 + 5, 300_000]) {
        const f = frameOf(n);
        const parts = chunkFrame(f, max);
        for (const p of parts) assert.ok(p.length <= max);
        let out: Uint8Array | undefined;
        parts.forEach((p, i) => {
          const res = r.push(p);
          if (i < parts.length - 1) assert.equal(res.kind, 'partial');
          else if (res.kind === 'frame') out = res.frame;
        });
        assert.deepEqual(out, f, `size ${n}, max ${max}`);
        assert.equal(r.pendingBytes, 0);
      }
    }
    assert.deepEqual(r.push(HEARTBEAT), { kind: 'beat' });
  });

  it('bounds reassembly and drops what is out of sequence', () => {
    const r = new Reassembler(1000);
    // Declares more than the bound: dropped before any allocation.
    const big = chunkFrame(frameOf(5000), 100);
    assert.equal(r.push(big[0]!).kind, 'dropped');
    assert.equal(r.pendingBytes, 0);
    assert.equal(r.push(big[1]!).kind, 'dropped'); // continuation without a first chunk
    assert.equal(r.push(chunkFrame(frameOf(2000), 4000)[0]!).kind, 'dropped'); // whole, too big
    // A first chunk claiming fewer bytes than it carries, or continuations past the frame's end.
    const lying = new Uint8Array([ChunkTag.First, 2, 0, 0, 0, 1, 2, 3]);
    assert.equal(r.push(lying).kind, 'dropped');
    const parts = chunkFrame(frameOf(250), 100);
    r.push(parts[0]!);
    r.push(parts[1]!);
    assert.equal(r.push(new Uint8Array(200).fill(ChunkTag.More)).kind, 'dropped');
    // A new first chunk abandons the frame in progress; the next one completes normally.
    r.push(parts[0]!);
    const again = chunkFrame(frameOf(150), 100);
    assert.equal(r.push(again[0]!).kind, 'partial');
    assert.deepEqual(r.push(again[1]!), { kind: 'frame', frame: frameOf(150) });
    assert.equal(r.push(new Uint8Array(0)).kind, 'dropped');
    assert.equal(r.push(new Uint8Array([9, 1, 2])).kind, 'dropped');
    assert.equal(r.push(new Uint8Array([ChunkTag.Beat, 1])).kind, 'dropped');
  });

  it('never throws or grows past its bound on random messages', () => {
    const r = new Reassembler(4096);
    const rand = rng(99);
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(rand() * 64);
      const m = new Uint8Array(n);
      for (let k = 0; k < n; k++) m[k] = Math.floor(rand() * 256);
      if (n > 0 && rand() < 0.5) m[0] = Math.floor(rand() * 4);
      r.push(m);
      assert.ok(r.pendingBytes <= 4096);
    }
  });
});

describe('webrtc frame routing', () => {
  it('routes by header: audio lossy, pictures full or delta, the rest ordered', () => {
    const raster = { width: 1, height: 1, data: new Uint8Array(4) };
    assert.equal(frameRoute(encodeMessage({ kind: 'audio-pcm', sampleRate: 48000, channels: 1, samples: new Float32Array(4) })), 'audio');
    assert.equal(frameRoute(encodeMessage({ kind: 'audio-compressed', sampleRate: 48000, channels: 1, data: new Uint8Array(3) })), 'audio');
    assert.equal(frameRoute(encodeMessage({ kind: 'delta-pixels', ...raster })), 'delta');
    assert.equal(frameRoute(encodeMessage({ kind: 'pixels', ...raster })), 'full');
    assert.equal(frameRoute(encodeMessage({ kind: 'keyframe', ...raster })), 'full');
    assert.equal(frameRoute(encodeMessage({ kind: 'compressed-pixels', ...raster })), 'full');
    assert.equal(frameRoute(encodeMessage({ kind: 'keyframe', width: 0, height: 0, data: new Uint8Array(0) })), 'other');
    assert.equal(frameRoute(encodeMessage({ kind: 'input', event: { input: 'pointer', x: 1, y: 2, buttons: 0, phase: 0 } })), 'other');
    assert.equal(frameRoute(encodeMessage({ kind: 'haptic', intensity: 1, durationMs: 5 })), 'other');
    assert.equal(frameRoute(new Uint8Array(3)), 'other');
    assert.ok(wellFramed(encodeMessage({ kind: 'pixels', ...raster })));
    assert.ok(!wellFramed(encodeMessage({ kind: 'pixels', ...raster }).subarray(0, 18)));
  });
});

describe('webrtc link without RTCPeerConnection (Node)', () => {
  it('both sides fall back cleanly and open no signaling socket', async () => {
    assert.equal((globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection, undefined);
    const relay = await startTestRelay();
    try {
      const source = new SourceMediaLinks({ signalUrl: `${relay.url}/signal/x` });
      assert.equal(source.supported, false);
      assert.equal(await source.fingerprint, undefined);
      assert.equal(source.send(encodeMessage({ kind: 'pixels', width: 1, height: 1, data: new Uint8Array(4) })), 0);
      source.close();
      const receiver = new ReceiverMediaLink({ signalUrl: `${relay.url}/signal/x` });
      assert.equal(receiver.state, 'unsupported');
      assert.equal(receiver.transport, 'websocket');
      assert.equal(receiver.sendInput(encodeMessage({ kind: 'input', event: { input: 'text', text: 'a' } })), false);
      receiver.close();
      assert.equal(receiver.state, 'unsupported');
      await new Promise((r) => setImmediate(r));
      assert.equal(relay.channels.get('x'), undefined, 'no connection was made');
    } finally {
      await relay.close();
    }
  });
});

describe('webrtc signaling client (real relay)', () => {
  it('delivers messages addressed to it and ignores garbage and what is addressed to others', async () => {
    const relay = await startTestRelay();
    const url = `${relay.url}/signal/sig`;
    const a = new SignalingClient(url, 's-aaaa', 'source');
    const b = new SignalingClient(url, 'r-bbbb', 'receiver');
    const hostile = await TestPeer.connect(url);
    const got: SignalMessage[] = [];
    a.on('message', (m) => got.push(m));
    try {
      await until(() => a.open && b.open, 5000, 'both open');
      await until(() => (relay.channels.get('sig') as unknown as { signalPeers: Set<unknown> } | undefined)?.signalPeers.size === 3, 5000, 'three signaling peers');
      for (const s of ['garbage', '{}', '{"v":1,"from":"x","to":"r-bbbb","type":"hello","role":"receiver"}', JSON.stringify({ v: 1, from: 'x', type: 'hello', role: 'receiver', pad: 'y'.repeat(40_000) })]) hostile.sendRaw(s);
      assert.ok(b.send({ to: 'r-other', type: 'bye', reason: 'not for a' }));
      assert.ok(b.send({ type: 'hello' }));
      assert.ok(b.send({ to: 's-aaaa', type: 'offer', sdp: 'v=0' }));
      await until(() => got.length >= 2, 5000, 'two messages at a');
      await until(() => a.ignored >= 5, 5000, 'garbage counted');
      assert.deepEqual(got, [
        { v: 1, from: 'r-bbbb', role: 'receiver', type: 'hello' },
        { v: 1, from: 'r-bbbb', to: 's-aaaa', role: 'receiver', type: 'offer', sdp: 'v=0' },
      ]);
      assert.equal(a.ignored, 5);
    } finally {
      a.close();
      b.close();
      hostile.ws.close();
      await relay.close();
    }
  });

  it('reports a refused /signal as a close with its code', async () => {
    const relay = await startTestRelay({ authorize: (req) => (req.role === 'signal' ? { ok: false, code: 4403, reason: 'no' } : { ok: true }) });
    try {
      const c = new SignalingClient(`${relay.url}/signal/sig`, 'r-1', 'receiver');
      const code = await new Promise<number>((resolve) => c.on('close', (code) => resolve(code)));
      assert.equal(code, 4403);
      assert.equal(c.send({ type: 'hello' }), false);
    } finally {
      await relay.close();
    }
  });
});
