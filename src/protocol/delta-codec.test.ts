import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DeltaEncoder, applyDelta, applyDeltaInPlace, encodeDelta, maxDeltaSize, validateDelta } from './delta-codec.js';
import { ProtocolError } from './errors.js';

describe('XOR + RLE delta codec', () => {
  it('round-trips any pair of equal-length frames', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }).chain((n) => fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ minLength: n, maxLength: n }))),
        ([prev, cur]) => {
          const d = encodeDelta(prev, cur);
          assert.ok(d.length <= maxDeltaSize(cur.length));
          assert.deepEqual(applyDelta(prev, d), cur);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('round-trips sparse changes and unaligned views', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.array(fc.nat(), { maxLength: 40 }), fc.integer({ min: 0, max: 3 }), (n, positions, shift) => {
        const backing = new Uint8Array(n + 4);
        const prev = backing.subarray(shift, shift + n);
        for (let i = 0; i < n; i++) prev[i] = (i * 31) & 0xff;
        const cur = prev.slice();
        for (const p of positions) cur[p % n] = (cur[p % n]! + 1 + (p % 200)) & 0xff;
        assert.deepEqual(applyDelta(prev, encodeDelta(prev, cur)), cur);
      }),
      { numRuns: 300 },
    );
  });

  it('uses the documented token format', () => {
    const prev = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const cur = new Uint8Array([1, 2, 3, 4, 5 ^ 0x0f, 6]);
    assert.deepEqual([...encodeDelta(prev, cur)], [0x00, 4, 0, 0x0f, 0x00, 1, 0]);
    // Runs longer than 65535 split into several tokens.
    const big = new Uint8Array(70000);
    assert.deepEqual([...encodeDelta(big, big)], [0x00, 0xff, 0xff, 0x00, 0x71, 0x11]);
  });

  it('refuses malformed token streams without touching the frame', () => {
    const frame = new Uint8Array([9, 9, 9, 9]);
    const cases = [
      [0x00], // truncated run
      [0x00, 0x01], // truncated run
      [0x00, 0x00, 0x00, 0x00, 0x04, 0x00], // zero-length run
      [0x00, 0x05, 0x00], // past the end
      [0x01, 0x02, 0x03], // short of the end
      [0x01, 0x02, 0x03, 0x04, 0x05], // literal past the end
    ];
    for (const c of cases) {
      assert.throws(() => applyDeltaInPlace(frame, new Uint8Array(c)), ProtocolError, JSON.stringify(c));
      assert.deepEqual([...frame], [9, 9, 9, 9]);
    }
    assert.throws(() => encodeDelta(new Uint8Array(3), new Uint8Array(4)), ProtocolError);
    assert.doesNotThrow(() => validateDelta(new Uint8Array([0x00, 4, 0]), 4));
  });

  it('DeltaEncoder sends a keyframe first, then deltas, and a keyframe when a delta would not pay', () => {
    const enc = new DeltaEncoder();
    const a = new Uint8Array(64).fill(1);
    const b = a.slice();
    b[10] = 2;
    assert.equal(enc.encode(a).keyframe, true);
    const second = enc.encode(b);
    assert.equal(second.keyframe, false);
    assert.deepEqual(applyDelta(a, second.data), b);
    const noise = Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) | 1);
    assert.equal(enc.encode(noise).keyframe, true);
    enc.reset();
    assert.equal(enc.encode(noise).keyframe, true);
  });
});
