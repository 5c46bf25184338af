// Fuzz: random and mutated buffers into the decoder. The only acceptable failure is a
// ProtocolError (which the relay turns into a close code); anything else is a bug.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyDelta } from '../../src/protocol/delta-codec.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { Flag, FrameType, InputType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import { message } from '../support/arbitraries.js';
import { rng } from '../support/rng.js';


function decodeOnlyThrowsProtocolError(buf: Uint8Array, seed: number, i: number): 'ok' | 'refused' {
  try {
    decodeMessage(buf, { maxPayload: 1 << 20 });
    return 'ok';
  } catch (e) {
    if (e instanceof ProtocolError) return 'refused';
    assert.fail(`seed ${seed} case ${i}: non-protocol error ${String(e)} for ${Buffer.from(buf).toString('hex').slice(0, 200)}`);
  }
}

describe('decoder fuzz', () => {
  it('100,000 random and mutated buffers only ever produce ProtocolError, quickly', () => {
    const seed = Number(process.env.SLUICE_FUZZ_SEED ?? Date.now() % 1e9);
    const rand = rng(seed);
    // Valid messages of every kind as mutation seeds.
    const corpus = fc.sample(message(), { numRuns: 400, seed }).map(encodeMessage);
    const started = performance.now();
    let refused = 0;
    let accepted = 0;
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      let buf: Uint8Array;
      const mode = i % 4;
      if (mode === 0) {
        // Pure noise, mostly short, sometimes header-sized with a plausible length.
        buf = new Uint8Array(Math.floor(rand() * 64));
        for (let j = 0; j < buf.length; j++) buf[j] = (rand() * 256) | 0;
        if (buf.length >= 16 && rand() < 0.5) new DataView(buf.buffer).setUint32(12, buf.length - 16, true);
      } else {
        const base = corpus[(rand() * corpus.length) | 0]!;
        buf = base.slice();
        const flips = 1 + ((rand() * 4) | 0);
        for (let f = 0; f < flips; f++) {
          const op = rand();
          if (buf.length === 0) break;
          const at = (rand() * buf.length) | 0;
          if (op < 0.5) buf[at] = (rand() * 256) | 0;
          else if (op < 0.7) buf = buf.slice(0, at);
          else if (op < 0.85) buf = Uint8Array.from([...buf, ...Array.from({ length: 1 + ((rand() * 8) | 0) }, () => (rand() * 256) | 0)]);
          else buf[at] = buf[at]! ^ (1 << ((rand() * 8) | 0));
        }
        // Half the time keep the length field honest so the payload decoders get exercised.
        if (buf.length >= 16 && rand() < 0.5) new DataView(buf.buffer, buf.byteOffset).setUint32(12, buf.length - 16, true);
      }
      if (decodeOnlyThrowsProtocolError(buf, seed, i) === 'ok') accepted++;
      else refused++;
    }
    const elapsed = performance.now() - started;
    assert.equal(refused + accepted, N);
    assert.ok(refused > N / 4 && accepted > N / 100, `fuzz should hit both paths (refused ${refused}, accepted ${accepted})`);
    // "never hangs": 100k decodes of ≤ a few KB each must finish well within the test timeout.
    assert.ok(elapsed < 60_000, `fuzz took ${elapsed.toFixed(0)} ms`);
  });

  it('random delta payloads against a frame only ever produce ProtocolError', () => {
    const seed = Number(process.env.SLUICE_FUZZ_SEED ?? 7);
    const rand = rng(seed);
    const prev = new Uint8Array(64);
    for (let i = 0; i < 20_000; i++) {
      const d = new Uint8Array((rand() * 40) | 0);
      for (let j = 0; j < d.length; j++) d[j] = rand() < 0.3 ? 0 : (rand() * 256) | 0;
      try {
        assert.equal(applyDelta(prev, d).length, 64);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
      }
    }
  });
});

describe('decoder fuzz: hostile JSON', () => {
  const JSON_FRAMES: Array<[number, number]> = [
    [FrameType.SignalSync, 0],
    [FrameType.SignalDiff, 0],
    [FrameType.SchemaAnnounce, 0],
    [FrameType.SubscribeFilter, 0],
    [FrameType.Hello, 0],
    [FrameType.Welcome, 0],
    [FrameType.Error, 0],
    [FrameType.RpcCall, 0],
    [FrameType.RpcResult, 0],
    [FrameType.SourceStatus, 0],
    [InputType.Action, Flag.Input],
  ];
  const enc = new TextEncoder();
  const logRecord = (stream: number, data: Uint8Array) => {
    const b = new Uint8Array(17 + data.length);
    b[16] = stream;
    b.set(data, 17);
    return encodeFrame({ type: FrameType.LogRecord }, b);
  };
  /** Pieces of JSON text that stress the gate: brackets in and out of strings, escapes, reserved keys, multi-byte and broken UTF-8. */
  const piece = fc.oneof(
    fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', ':', ',', '"__proto__":', '"constructor":', '"prototype":', '{"__proto__":{"polluted":1}}', 'null', '1', '"é"', '"🎉"', '"\\ud83c"'),
    fc.string({ unit: 'binary', maxLength: 4 }).map((t) => JSON.stringify(t)),
  );
  const text = fc.array(piece, { maxLength: 60 }).map((a) => enc.encode(a.join('')));
  const brokenUtf8 = fc.constantFrom(new Uint8Array([0xf0, 0x9f, 0x8e]), new Uint8Array([0xc3]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0xff]));
  const payload = fc.oneof(
    text,
    fc.tuple(text, brokenUtf8, text).map(([a, b, c]) => Uint8Array.from([...a, ...b, ...c])),
    fc.integer({ min: 60, max: 3000 }).map((n) => enc.encode('{"a":' + '['.repeat(n) + ']'.repeat(n) + '}')),
    fc.integer({ min: 60, max: 3000 }).map((n) => enc.encode('{"a":"' + '\\"['.repeat(n) + '"}')),
  );

  it('random hostile JSON in every JSON-bearing frame only ever produces ProtocolError, and never pollutes', () => {
    const protoNames = Object.getOwnPropertyNames(Object.prototype).sort();
    fc.assert(
      fc.property(payload, fc.nat(JSON_FRAMES.length + 1), (p, which) => {
        let buf: Uint8Array;
        if (which < JSON_FRAMES.length) buf = encodeFrame({ type: JSON_FRAMES[which]![0], flags: JSON_FRAMES[which]![1] }, p);
        else buf = logRecord(which === JSON_FRAMES.length ? 2 : 3, p);
        try {
          decodeMessage(buf);
        } catch (e) {
          if (!(e instanceof ProtocolError)) assert.fail(`non-protocol error ${String(e)} for ${Buffer.from(p).toString('hex').slice(0, 200)}`);
        }
        assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoNames);
      }),
      { numRuns: 5000 },
    );
  });

  it('huge and deep payloads are refused in time proportional to the bytes, not to their nesting', () => {
    const deep = enc.encode('['.repeat(8 * 1024 * 1024));
    const t0 = performance.now();
    assert.throws(() => decodeMessage(encodeFrame({ type: FrameType.SignalSync }, deep), { maxJsonPayload: Infinity }), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-deep');
    assert.throws(() => decodeMessage(encodeFrame({ type: FrameType.SignalSync }, deep)), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-large');
    const strings = enc.encode('["' + '\\['.repeat(2 * 1024 * 1024) + '"' + ',['.repeat(70));
    assert.throws(() => decodeMessage(encodeFrame({ type: FrameType.SignalDiff }, strings), { maxJsonPayload: Infinity }), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-deep');
    assert.ok(performance.now() - t0 < 2000, `took ${(performance.now() - t0).toFixed(0)} ms`);
  });
});
