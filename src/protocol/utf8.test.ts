import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from './errors.js';
import { MAX_JSON_DEPTH, checkJsonDepth, decodeJson, truncateUtf8, utf8Encode } from './utf8.js';

const enc = (s: string) => utf8Encode(s);
const refused = (reason: string) => (e: unknown) => e instanceof ProtocolError && e.reason === reason;

/** Nesting depth of a parsed value (reference for the byte scan). */
function depthOf(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let d = 0;
  for (const c of Array.isArray(v) ? v : Object.values(v)) d = Math.max(d, depthOf(c));
  return d + 1;
}

describe('JSON nesting pre-scan', () => {
  it('accepts exactly MAX_JSON_DEPTH levels and refuses one more, arrays and objects alike', () => {
    const arr = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const obj = (n: number) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);
    assert.doesNotThrow(() => decodeJson(enc(arr(MAX_JSON_DEPTH))));
    assert.doesNotThrow(() => decodeJson(enc(obj(MAX_JSON_DEPTH))));
    assert.throws(() => decodeJson(enc(arr(MAX_JSON_DEPTH + 1))), refused('too-deep'));
    assert.throws(() => decodeJson(enc(obj(MAX_JSON_DEPTH + 1))), refused('too-deep'));
  });

  it('ignores brackets inside strings, honouring backslash escapes, in any script', () => {
    const s = JSON.stringify({ a: '[[[[{{{{' .repeat(100), b: 'x\\"[[[[' + '{'.repeat(200), c: ['é🎉"]]]]}}}}'] });
    assert.doesNotThrow(() => checkJsonDepth(enc(s)));
    assert.deepEqual(decodeJson(enc(s)), JSON.parse(s));
  });

  it('refuses a hostile payload before decoding it: invalid UTF-8 after the nesting still reports too-deep', () => {
    const bytes = new Uint8Array([...enc('['.repeat(1000)), 0xff, 0xfe]);
    assert.throws(() => decodeJson(bytes), refused('too-deep'));
  });

  it('measures the same depth as the parsed value for any valid JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (v, max) => {
        const bytes = enc(JSON.stringify(v));
        const d = depthOf(JSON.parse(JSON.stringify(v)));
        if (d > max) assert.throws(() => checkJsonDepth(bytes, max), refused('too-deep'));
        else assert.doesNotThrow(() => checkJsonDepth(bytes, max));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a payload over the size limit before anything else (too-large, close 1009)', () => {
    const bytes = enc('['.repeat(5000)); // too deep AND too large: size wins, nothing is scanned
    assert.throws(() => decodeJson(bytes, 100), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-large' && e.closeCode === 1009);
    assert.doesNotThrow(() => decodeJson(enc('{"a":1}'), 7));
  });

  it('scans 16 MiB in a few tens of milliseconds', () => {
    const chunk = enc(JSON.stringify({ k: 'héllo "w" \\ [x]', a: [1, 2, { b: true }] }) + ',');
    const big = new Uint8Array(16 * 1024 * 1024);
    big[0] = 0x5b;
    for (let at = 1; at + chunk.length < big.length; at += chunk.length) big.set(chunk, at);
    big.fill(0x20, big.length - chunk.length);
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      checkJsonDepth(big);
      best = Math.min(best, performance.now() - t);
    }
    console.log(`# checkJsonDepth: 16 MiB in ${best.toFixed(1)} ms`);
    assert.ok(best < 250, `16 MiB scan took ${best.toFixed(1)} ms`);
  });
});

describe('truncateUtf8', () => {
  const units = fc.oneof(
    fc.constantFrom('a', 'é', 'ह', '€', '😀', '🎉', '\u{10FFFF}'),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), // lone surrogates
    fc.string({ unit: 'binary', maxLength: 3 }),
  );
  const text = fc.array(units, { maxLength: 40 }).map((a) => a.join(''));

  it('is the longest prefix that fits, at every length, never splitting a character', () => {
    fc.assert(
      fc.property(text, (s) => {
        const total = utf8Encode(s).length;
        for (let max = 0; max <= total + 1; max++) {
          const r = truncateUtf8(s, max);
          assert.ok(s.startsWith(r));
          assert.ok(utf8Encode(r).length <= max, `${JSON.stringify(r)} over ${max}`);
          if (r.length < s.length) {
            // The cut never falls inside a surrogate pair …
            const last = r.charCodeAt(r.length - 1);
            const next = s.charCodeAt(r.length);
            assert.ok(!(last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff), 'split a surrogate pair');
            // … and the next whole character would not fit.
            const step = next >= 0xd800 && next <= 0xdbff && s.charCodeAt(r.length + 1) >= 0xdc00 && s.charCodeAt(r.length + 1) <= 0xdfff ? 2 : 1;
            assert.ok(utf8Encode(s.slice(0, r.length + step)).length > max, `not the longest prefix for ${max}`);
          } else assert.equal(r, s);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('examples: close reasons of 123 bytes', () => {
    assert.equal(truncateUtf8('héllo', 2), 'h');
    assert.equal(truncateUtf8('héllo', 3), 'hé');
    assert.equal(truncateUtf8('😀x', 3), '');
    assert.equal(truncateUtf8('😀x', 4), '😀');
    assert.equal(utf8Encode(truncateUtf8('é'.repeat(100), 123)).length, 122);
    const short = 'fits';
    assert.equal(truncateUtf8(short, 123), short);
  });
});
