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
        // Every payload but over-long pieces ends at a newline.
        for (const p of out) if (p.length < max) assert.equal(p[p.length - 1], 0x0a);
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
});
