// `sluice decode` shows text payloads as text (and JSON where the stream carries JSON), bytes as hex.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeHexMessage } from '../../src/cli/decode-command.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { finish, sluice } from './cli-harness.js';

const hexOf = (m: Parameters<typeof encodeMessage>[0]) => Buffer.from(encodeMessage(m)).toString('hex');
const decoded = (m: Parameters<typeof encodeMessage>[0]) => (JSON.parse(decodeHexMessage(hexOf(m))) as { message: Record<string, unknown> }).message;

describe('sluice decode', () => {
  it('log lines as text, status and event records as text and JSON', () => {
    assert.deepEqual(decoded({ kind: 'log-record', offset: 3, time: 1, stream: 'stdout', data: Buffer.from('hello wörld \x1b[31mred\x1b[0m\n') }).data, {
      bytes: 26,
      text: 'hello wörld \x1b[31mred\x1b[0m\n',
    });
    assert.deepEqual(decoded({ kind: 'log-record', offset: 4, time: 1, stream: 'status', data: Buffer.from('{"status":"exited","exitCode":3}') }).data, {
      bytes: 32,
      text: '{"status":"exited","exitCode":3}',
      json: { status: 'exited', exitCode: 3 },
    });
    // The protocol refuses an event record that is not JSON; decode says why.
    assert.throws(() => decoded({ kind: 'log-record', offset: 5, time: 1, stream: 'event', data: Buffer.from('{nope') }), /not valid JSON/);
    assert.equal(decoded({ kind: 'stream-end', reason: 'source finished' }).reason, 'source finished');
  });

  it('binary payloads as hex, long ones cut with a count; batches decoded frame by frame', () => {
    assert.deepEqual(decoded({ kind: 'log-record', offset: 0, time: 1, stream: 'stdout', data: Uint8Array.from([0xff, 0x00, 0x41]) }).data, { bytes: 3, hex: 'ff 00 41' });
    const px = decoded({ kind: 'pixels', width: 16, height: 16, data: new Uint8Array(16 * 16 * 4) }).data as { bytes: number; hex: string };
    assert.equal(px.bytes, 1024);
    assert.match(px.hex, /^00 00 .* … \(1024 bytes\)$/);
    const frames = [encodeMessage({ kind: 'signal-diff', diff: { n: 2 } }), encodeMessage({ kind: 'log-record', offset: 9, time: 1, stream: 'stderr', data: Buffer.from('oops\n') })];
    const batch = decoded({ kind: 'batch', frames }) as { frames: Array<Record<string, unknown>> };
    assert.deepEqual(batch.frames.map((f) => f.kind), ['signal-diff', 'log-record']);
    assert.deepEqual(batch.frames[1]!.data, { bytes: 5, text: 'oops\n' });
  });

  it('the command prints the same', { timeout: 30_000 }, async () => {
    const d = await finish(sluice(['decode', hexOf({ kind: 'log-record', offset: 1, time: 1, stream: 'stdout', data: Buffer.from('a line\n') })]));
    assert.equal(d.code, 0);
    assert.deepEqual((JSON.parse(d.stdout) as { message: { data: unknown } }).message.data, { bytes: 7, text: 'a line\n' });
    assert.match(d.stdout, /"text": "a line\\n"/);
  });
});
