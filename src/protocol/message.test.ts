import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from './errors.js';
import { Flag, FrameType, InputType, frameTypeName } from './frame-codes.js';
import { DEFAULT_MAX_JSON_PAYLOAD, HEADER_SIZE, decodeHeader, encodeFrame, readHeader } from './header.js';
import { decodeMessage, encodeMessage } from './message.js';
import type { Message } from './message.js';
import { inputEvent, message } from '../../test/support/arbitraries.js';

/** Compares a decoded message with the original, ignoring the flags field (decode fills it). */
function sameMessage(decoded: Message, original: Message): void {
  const { flags: _f, ...rest } = decoded;
  const normalise = (m: object) => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array || v instanceof Float32Array ? Array.from(v) : v))) as unknown;
  assert.deepEqual(normalise(rest), normalise(original));
}

describe('frame header', () => {
  it('is 16 bytes little-endian in the documented field order', () => {
    const f = encodeFrame({ type: 0x31, flags: 0x04, seq: 0x0201, timestamp: 0x06050403, width: 0x0807, height: 0x0a09 }, new Uint8Array([0xaa, 0xbb]));
    assert.equal(f.length, HEADER_SIZE + 2);
    assert.deepEqual([...f], [0x31, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x02, 0x00, 0x00, 0x00, 0xaa, 0xbb]);
    assert.deepEqual(readHeader(f), { type: 0x31, flags: 4, seq: 0x0201, timestamp: 0x06050403, width: 0x0807, height: 0x0a09, length: 2 });
  });

  it('refuses short buffers, length mismatches, unknown types/flags and oversize payloads', () => {
    const ok = encodeFrame({ type: FrameType.Ping });
    const cases: Array<[Uint8Array, string, number]> = [
      [ok.subarray(0, 15), 'short-buffer', 4400],
      [new Uint8Array([...ok, 0]), 'length-mismatch', 4400],
      [encodeFrame({ type: 0x99 }), 'unknown-type', 4400],
      [encodeFrame({ type: 0x7f, flags: Flag.Input }), 'unknown-type', 4400],
      [encodeFrame({ type: FrameType.Ping, flags: 0x80 }), 'bad-payload', 4400],
      [encodeFrame({ type: FrameType.Pixels }, new Uint8Array(101)), 'too-large', 1009],
    ];
    for (const [buf, reason, close] of cases) {
      assert.throws(
        () => decodeHeader(buf, { maxPayload: 100 }),
        (e: unknown) => e instanceof ProtocolError && e.reason === reason && e.closeCode === close && e.code === `protocol/${reason}`,
        reason,
      );
    }
  });

  it('checks the size limit before the length, so a lying header cannot make us wait for bytes', () => {
    const h = encodeFrame({ type: FrameType.Pixels });
    new DataView(h.buffer).setUint32(12, 0xffffffff, true);
    assert.throws(() => decodeHeader(h), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-large');
  });
});

describe('messages', () => {
  it('every frame and input type round-trips', () => {
    fc.assert(
      fc.property(message(), (m) => {
        const bytes = encodeMessage(m);
        assert.equal(readHeader(bytes).length, bytes.length - HEADER_SIZE);
        const back = decodeMessage(bytes);
        sameMessage(back, m);
        // Re-encoding the decoded message reproduces the exact bytes.
        assert.deepEqual(encodeMessage(back), bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('covers every input type code', () => {
    const seen = new Set<number>();
    fc.assert(
      fc.property(inputEvent(), (event) => {
        const bytes = encodeMessage({ kind: 'input', event });
        seen.add(bytes[0]!);
        assert.equal(bytes[1]! & Flag.Input, Flag.Input);
      }),
      { numRuns: 2000 },
    );
    assert.deepEqual([...seen].sort((a, b) => a - b), Object.values(InputType).sort((a, b) => a - b));
  });

  it('sets FLAG_SENDER and a u32 prefix when a sender is given', () => {
    const b = encodeMessage({ kind: 'input', sender: 0x01020304, event: { input: 'text', text: 'hi' } });
    assert.equal(b[1], Flag.Input | Flag.Sender);
    assert.deepEqual([...b.subarray(16, 20)], [4, 3, 2, 1]);
    assert.equal(decodeMessage(b).sender, 0x01020304);
  });

  it('refuses payloads that do not fit their type', () => {
    const bad: Uint8Array[] = [
      encodeFrame({ type: FrameType.Pixels, width: 2, height: 2 }, new Uint8Array(15)),
      encodeFrame({ type: FrameType.SignalSync }, new TextEncoder().encode('[1,2]')),
      encodeFrame({ type: FrameType.SignalDiff }, new TextEncoder().encode('{"a":')),
      encodeFrame({ type: FrameType.SignalDiff }, new Uint8Array([0x7b, 0xff, 0x7d])),
      encodeFrame({ type: FrameType.SignalDiff }, new TextEncoder().encode('{"a":'.repeat(100) + '1' + '}'.repeat(100))),
      encodeFrame({ type: FrameType.SubscribeFilter }, new TextEncoder().encode('{"select":"a"}')),
      encodeFrame({ type: FrameType.SubscribeFilter }, new TextEncoder().encode('{"select":["a..b"]}')),
      encodeFrame({ type: FrameType.Resume }, new Uint8Array(7)),
      encodeFrame({ type: FrameType.Resume }, new Uint8Array([0, 0, 0, 0, 0, 0, 0x20, 0])),
      encodeFrame({ type: FrameType.LogRecord }, new Uint8Array(16)),
      encodeFrame({ type: FrameType.Haptic }, new Uint8Array(3)),
      encodeFrame({ type: FrameType.AudioPcm }, new Uint8Array(9)),
      encodeFrame({ type: InputType.Pointer, flags: Flag.Input }, new Uint8Array(5)),
      encodeFrame({ type: InputType.Action, flags: Flag.Input }, new Uint8Array(0)),
      encodeFrame({ type: FrameType.Ping, flags: Flag.Sender }, new Uint8Array(3)),
      encodeFrame({ type: FrameType.Welcome }, new TextEncoder().encode('{"id":1}')),
    ];
    for (const b of bad) assert.throws(() => decodeMessage(b), ProtocolError, Buffer.from(b).toString('hex'));
  });
});

describe('JSON payload gate', () => {
  const JSON_TYPES: Array<[string, number, number]> = [
    ['SignalSync', FrameType.SignalSync, 0],
    ['SignalDiff', FrameType.SignalDiff, 0],
    ['SchemaAnnounce', FrameType.SchemaAnnounce, 0],
    ['SubscribeFilter', FrameType.SubscribeFilter, 0],
    ['Hello', FrameType.Hello, 0],
    ['Welcome', FrameType.Welcome, 0],
    ['Error', FrameType.Error, 0],
    ['RpcCall', FrameType.RpcCall, 0],
    ['RpcResult', FrameType.RpcResult, 0],
    ['SourceStatus', FrameType.SourceStatus, 0],
    ['Action', InputType.Action, Flag.Input],
  ];
  /** A JSON object of exactly `n` bytes: {"p":"xxx…"}. */
  const jsonOf = (n: number) => new TextEncoder().encode(`{"p":"${'x'.repeat(n - 8)}"}`);

  it('refuses every JSON-bearing frame over maxJsonPayload with too-large (1009), before parsing', () => {
    for (const [name, type, flags] of JSON_TYPES) {
      const over = encodeFrame({ type, flags }, jsonOf(101));
      assert.throws(
        () => decodeMessage(over, { maxJsonPayload: 100 }),
        (e: unknown) => e instanceof ProtocolError && e.reason === 'too-large' && e.closeCode === 1009,
        name,
      );
      // Hostile nesting over the limit is refused for its size, never scanned or parsed.
      const deep = encodeFrame({ type, flags }, new TextEncoder().encode('['.repeat(101)));
      assert.throws(() => decodeMessage(deep, { maxJsonPayload: 100 }), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-large', name);
    }
  });

  it('applies DEFAULT_MAX_JSON_PAYLOAD (1 MiB) when no limit is given; raw frames keep maxPayload', () => {
    assert.equal(DEFAULT_MAX_JSON_PAYLOAD, 1024 * 1024);
    const atLimit = encodeFrame({ type: FrameType.SignalSync }, jsonOf(DEFAULT_MAX_JSON_PAYLOAD));
    assert.equal(decodeMessage(atLimit).kind, 'signal-sync');
    const over = encodeFrame({ type: FrameType.SignalSync }, jsonOf(DEFAULT_MAX_JSON_PAYLOAD + 1));
    assert.throws(() => decodeMessage(over), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-large');
    assert.equal(decodeMessage(over, { maxJsonPayload: 2 * DEFAULT_MAX_JSON_PAYLOAD }).kind, 'signal-sync');
    const pixels = encodeFrame({ type: FrameType.CompressedPixels }, new Uint8Array(2 * DEFAULT_MAX_JSON_PAYLOAD));
    assert.equal(decodeMessage(pixels).kind, 'compressed-pixels');
  });

  it('refuses nesting deeper than 64 in every JSON-bearing frame with too-deep (4400)', () => {
    for (const [name, type, flags] of JSON_TYPES) {
      const deep = encodeFrame({ type, flags }, new TextEncoder().encode('{"a":' + '['.repeat(64) + ']'.repeat(64) + '}'));
      assert.throws(() => decodeMessage(deep), (e: unknown) => e instanceof ProtocolError && e.reason === 'too-deep' && e.closeCode === 4400, name);
    }
  });
});

describe('LogRecord validation', () => {
  const rec = (stream: 'stdout' | 'stderr' | 'status' | 'event', data: string | Uint8Array, time = 1700000000000) =>
    encodeMessage({ kind: 'log-record', offset: 0, time, stream, data: typeof data === 'string' ? new TextEncoder().encode(data) : data });
  const refused = (b: Uint8Array, why: string) => assert.throws(() => decodeMessage(b), (e: unknown) => e instanceof ProtocolError && e.closeCode === 4400, why);

  it('accepts status objects with a string status and an integer-or-null exitCode, extra fields allowed', () => {
    for (const ok of ['{"status":"running"}', '{"status":"exited","exitCode":0}', '{"status":"killed","exitCode":137,"signal":"SIGKILL","pid":4}', '{"status":"failed","exitCode":null,"error":"ENOENT"}']) {
      assert.equal(decodeMessage(rec('status', ok)).kind, 'log-record', ok);
    }
  });

  it('refuses bad status records', () => {
    for (const bad of ['', 'running', '[]', '{}', '{"status":1}', '{"status":"exited","exitCode":1.5}', '{"status":"exited","exitCode":"1"}', '{"status":"x"', '[' .repeat(100)]) {
      refused(rec('status', bad), `status ${bad}`);
    }
    refused(rec('status', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])), 'invalid UTF-8');
  });

  it('accepts any JSON value as an event, refuses non-JSON and deep JSON', () => {
    for (const ok of ['1', '"x"', 'null', '[1,{"a":2}]', '{"type":"progress","n":3}']) assert.equal(decodeMessage(rec('event', ok)).kind, 'log-record', ok);
    for (const bad of ['', 'x', '{', '['.repeat(65) + ']'.repeat(65)]) refused(rec('event', bad), `event ${bad}`);
  });

  it('keeps stdout/stderr as raw bytes, whatever they hold', () => {
    const raw = new Uint8Array([0xff, 0x00, 0x5b, 0x5b]);
    const m = decodeMessage(rec('stdout', raw));
    assert.ok(m.kind === 'log-record' && m.data.length === 4);
    assert.equal(decodeMessage(rec('stderr', '['.repeat(100))).kind, 'log-record');
  });

  it('refuses a time past the Date range (8.64e15)', () => {
    assert.equal(decodeMessage(rec('stdout', 'x', 8.64e15)).kind, 'log-record');
    refused(rec('stdout', 'x', 8.64e15 + 1), 'time');
  });

  it('bounds status and event payloads by maxJsonPayload (too-large, 1009)', () => {
    const big = `{"status":"running","pad":"${'x'.repeat(200)}"}`;
    assert.throws(() => decodeMessage(rec('status', big), { maxJsonPayload: 100 }), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009);
    assert.throws(() => decodeMessage(rec('event', big), { maxJsonPayload: 100 }), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009);
    assert.equal(decodeMessage(rec('stdout', big), { maxJsonPayload: 100 }).kind, 'log-record', 'raw output is not JSON');
  });
});

describe('protocol additions (issues #10 and #11)', () => {
  const json = (type: number, o: unknown) => encodeFrame({ type }, new TextEncoder().encode(JSON.stringify(o)));
  const refused = (b: Uint8Array, why: string) => assert.throws(() => decodeMessage(b), (e: unknown) => e instanceof ProtocolError && e.closeCode === 4400, why);
  const welcome = { id: 1, channel: 'c', role: 'receiver', heartbeatMs: 1, maxPayload: 1, server: 's' };

  it('LogAck 0xAA carries a u64 producer seq', () => {
    assert.equal(FrameType.LogAck, 0xaa);
    assert.equal(frameTypeName(0xaa), 'LogAck');
    const b = encodeMessage({ kind: 'log-ack', logAcked: 2 ** 40 + 3 });
    assert.deepEqual([...b.subarray(0, 2)], [0xaa, 0]);
    const m = decodeMessage(b);
    assert.ok(m.kind === 'log-ack' && m.logAcked === 2 ** 40 + 3);
    refused(encodeFrame({ type: FrameType.LogAck }, new Uint8Array(7)), 'short');
    refused(encodeFrame({ type: FrameType.LogAck }, new Uint8Array([0, 0, 0, 0, 0, 0, 0x20, 0])), 'above 2^53');
  });

  it('Welcome epoch, created and logAcked are validated', () => {
    const m = decodeMessage(json(FrameType.Welcome, { ...welcome, epoch: 'e', created: false, logAcked: 0 }));
    assert.ok(m.kind === 'welcome' && m.welcome.epoch === 'e' && m.welcome.created === false && m.welcome.logAcked === 0);
    for (const bad of [{ epoch: 1 }, { created: 'yes' }, { created: 1 }, { logAcked: -1 }, { logAcked: 1.5 }, { logAcked: '3' }]) {
      refused(json(FrameType.Welcome, { ...welcome, ...bad }), JSON.stringify(bad));
    }
  });

  it('RpcCall timeoutMs (positive integer) and cancel (boolean) are validated', () => {
    const m = decodeMessage(json(FrameType.RpcCall, { id: 1, method: 'm', timeoutMs: 1, cancel: true }));
    assert.ok(m.kind === 'rpc-call' && m.call.timeoutMs === 1 && m.call.cancel === true);
    for (const bad of [{ timeoutMs: 0 }, { timeoutMs: -5 }, { timeoutMs: 1.5 }, { timeoutMs: '10' }, { timeoutMs: 2 ** 60 }, { cancel: 'true' }, { cancel: 1 }]) {
      refused(json(FrameType.RpcCall, { id: 1, method: 'm', ...bad }), JSON.stringify(bad));
    }
  });
});
