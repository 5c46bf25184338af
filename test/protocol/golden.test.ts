// Golden fixtures: the exact bytes of one message per frame family. A change to these bytes is a
// wire-protocol change: update the fixture, docs/protocol.md and the protocol version together.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import { GOLDEN_CASES } from '../support/golden-cases.js';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/golden-frames.json', import.meta.url), 'utf8')) as Array<{ name: string; hex: string }>;
const spec = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

describe('golden frames', () => {
  it('has a fixture for every case and no stray fixtures', () => {
    assert.deepEqual(fixtures.map((f) => f.name), GOLDEN_CASES.map(([n]) => n));
  });
  for (const [name, message] of GOLDEN_CASES) {
    const hex = fixtures.find((f) => f.name === name)?.hex ?? '';
    it(`${name} encodes to the pinned bytes, decodes back, and is quoted in docs/protocol.md`, () => {
      const bytes = encodeMessage(message);
      assert.equal(Buffer.from(bytes).toString('hex'), hex);
      assert.deepEqual(encodeMessage(decodeMessage(Uint8Array.from(Buffer.from(hex, 'hex')))), bytes);
      // The spec spaces bytes in pairs: "fe 00 01 00 …".
      const spaced = hex.match(/../g)!.join(' ');
      assert.ok(spec.includes(spaced), `docs/protocol.md does not quote the ${name} example: ${spaced}`);
    });
  }
});
