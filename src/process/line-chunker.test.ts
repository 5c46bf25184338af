import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineChunker } from './line-chunker.js';

describe('LineChunker', () => {
  it('payloads are whole lines and concatenate back to the stream, however it is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }).map((a) => a.map((b) => (b % 4 === 0 ? 0x0a : b))), { maxLength: 30 }), fc.integer({ min: 4, max: 64 }), (chunks, max) => {
        const c = new LineChunker(max);
        const out: Uint8Array[] = [];
        for (const ch of chunks) out.push(...c.push(ch));
        for (const p of out) assert.ok(p.length <= max && p.length > 0);
        // Every payload but over-long pieces (cut at most 3 bytes short, at a character boundary) ends at a newline.
        for (const p of out) if (p.length < max - 3) assert.equal(p[p.length - 1], 0x0a);
        const rest = c.flush();
        if (rest) out.push(rest);
        assert.deepEqual(Buffer.concat(out), Buffer.concat(chunks));
      }),
      { numRuns: 500 },
    );
  });

  it('coalesces a burst of lines into one payload', () => {
    const c = new LineChunker();
    const burst = Buffer.from(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
    assert.equal(c.push(burst).length, 1);
    assert.deepEqual(c.push(Buffer.from('partial')), []);
    assert.deepEqual(Buffer.from(c.flush()!).toString(), 'partial');
  });

  it('cuts an over-long line only between UTF-8 characters, wherever a multi-byte character falls', () => {
    const max = 64;
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (const ch of ['é', '€', '😀']) {
      for (let lead = max - 8; lead <= max + 8; lead++) {
        // A character straddling the limit at every position, then more of them, then a newline.
        const line = 'a'.repeat(lead) + ch + 'b'.repeat(3) + ch.repeat(40) + '\n';
        const bytes = Buffer.from(line);
        for (const step of [bytes.length, 1, 7]) {
          const c = new LineChunker(max);
          const out: Uint8Array[] = [];
          for (let i = 0; i < bytes.length; i += step) out.push(...c.push(bytes.subarray(i, i + step)));
          const rest = c.flush();
          if (rest) out.push(rest);
          for (const p of out) {
            assert.ok(p.length > 0 && p.length <= max, `piece of ${p.length} bytes`);
            assert.doesNotThrow(() => strict.decode(p), `a piece of ${JSON.stringify(ch)} at ${lead} (step ${step}) is valid UTF-8`);
          }
          assert.equal(Buffer.concat(out).toString(), line);
        }
      }
    }
  });

  it('cuts bytes that are not UTF-8 at the limit (nothing to respect, no empty pieces)', () => {
    const c = new LineChunker(8);
    const out = c.push(new Uint8Array(20).fill(0x80));
    assert.deepEqual(out.map((p) => p.length), [8, 8]);
    const lead = c.push(new Uint8Array([0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0]));
    assert.ok(lead.every((p) => p.length > 0 && p.length <= 8));
  });
});
