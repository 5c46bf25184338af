// The /ws translation is total, and a failure while serving one /ws connection stays with
// that connection: fed straight into translateFrame and into a GoWsPeer on a fake socket.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import type { Message } from '../../src/protocol/message.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { FlushScheduler } from '../../src/relay/flush-scheduler.js';
import { GoWsPeer, TranslatingConnection, translateFrame } from '../../src/relay/gows-endpoint.js';
import type { GoWsHost } from '../../src/relay/gows-endpoint.js';
import type { PeerConnection, PeerHandlers } from '../../src/relay/transport.js';

const enc = (s: string) => new TextEncoder().encode(s);
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const record = (stream: 'stdout' | 'stderr' | 'status' | 'event', data: Uint8Array | string, time = Date.now()): Uint8Array =>
  encodeMessage({ kind: 'log-record', offset: 7, time, stream, data: typeof data === 'string' ? enc(data) : data } as Message);

/** Every message translateFrame returns must serialize. */
function translateAll(bytes: Uint8Array) {
  const out = translateFrame('process:x', bytes);
  for (const m of out) JSON.stringify(m);
  return out;
}

describe('translateFrame is total', () => {
  // The decoder refuses these records at the relay's input now (docs/protocol.md); a record that
  // is in history anyway (or reaches translation some other way) is skipped, never thrown on.
  it('deep JSON in status and event records never throws (refused or degraded)', () => {
    const d = deep(10_000);
    for (const bytes of [record('status', `{"status":${d},"exitCode":0}`), record('status', d), record('event', `{"a":${d}}`)]) {
      assert.ok(translateAll(bytes).length <= 1);
    }
    // Within the depth bound the JSON is still parsed.
    const [ok] = translateAll(record('event', `{"a":${deep(10)}}`));
    assert.deepEqual(ok!.data, { a: JSON.parse(deep(10)) as unknown });
  });

  it('odd status payloads: null, numbers, objects where strings belong never throw', () => {
    for (const text of ['null', '1', '"x"', '[]', '{"status":{"a":1},"exitCode":"no"}', '{"exitCode":1e400}']) {
      for (const m of translateAll(record('status', text))) {
        const data = m.data as { status: unknown; exitCode: unknown };
        assert.equal(typeof data.status, 'string', text);
        assert.ok(data.exitCode === null || Number.isFinite(data.exitCode), text);
      }
    }
  });

  it('times beyond the Date range never throw', () => {
    for (const time of [2 ** 53 - 1, 8.64e15 + 1]) {
      for (const m of translateAll(record('stdout', 'line\n', time))) assert.equal(m.timestamp, null);
    }
    const [m] = translateAll(record('stdout', 'line\n', 8.64e15));
    assert.equal(m!.timestamp, new Date(8.64e15).toISOString());
  });

  it('invalid UTF-8 is shown with replacement characters', () => {
    const [m] = translateAll(record('stdout', new Uint8Array([0xff, 0x61, 0x0a])));
    assert.equal(m!.data, '\ufffda');
  });

  it('never throws for arbitrary bytes, or arbitrary log-record payloads', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        translateAll(bytes);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom('stdout', 'stderr', 'status', 'event'),
        fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.json().map(enc), fc.nat(200).map((n) => enc(deep(n)))),
        fc.maxSafeNat(),
        (stream, data, time) => {
          translateAll(record(stream as 'stdout', data, time));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

class FakeConnection implements PeerConnection {
  readonly remoteAddress = '127.0.0.1';
  isOpen = true;
  bufferedAmount = 0;
  readonly acceptsFramed = false;
  readonly concatenable = false;
  readonly texts: string[] = [];
  closed: { code: number; reason: string } | undefined;
  handlers!: PeerHandlers;
  send(): void {}
  pause(): void {}
  resume(): void {}
  sendText(text: string): void {
    this.texts.push(text);
  }
  writeFramed(): void {}
  batch(fn: () => void): void {
    fn();
  }
  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
    this.isOpen = false;
  }
  terminate(): void {}
  ping(): void {}
  setHandlers(h: PeerHandlers): void {
    this.handlers = h;
  }
  message(text: string): void {
    this.handlers.message(enc(text), false);
  }
}

function setup(host: Partial<GoWsHost> = {}) {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
  const conn = new FakeConnection();
  const full: GoWsHost = {
    channelFor: () => ({ error: 'none', code: 4404 }),
    authorize: () => Promise.resolve({ ok: true }),
    nextId: () => 1,
    peerContext: { scheduler: new FlushScheduler(), frame: (p) => p },
    maxFramesPerSecond: 1000,
    maxSubscriptions: 100,
    released: () => {},
    ...host,
  };
  const peer = new GoWsPeer(1, conn, log, () => ({}), full, undefined, {});
  return { conn, peer, lines };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('GoWsPeer isolation', () => {
  it('a failure while handling a message closes that connection with 1011, logged once, with no unhandled rejection', async () => {
    let rejections = 0;
    const onRejection = () => rejections++;
    process.on('unhandledRejection', onRejection);
    try {
      const { conn, lines } = setup({
        channelFor: () => {
          throw new Error('boom');
        },
      });
      conn.message(JSON.stringify({ type: 'subscribe', data: 'a' }));
      conn.message(JSON.stringify({ type: 'subscribe', data: 'b' }));
      await tick();
      assert.equal(conn.closed?.code, 1011);
      assert.equal(lines.filter((l) => l.includes('boom')).length, 1, 'logged once');
      assert.equal(rejections, 0);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('a throwing authorizer is contained too', async () => {
    const { conn } = setup({ authorize: () => Promise.reject(new Error('auth down')) });
    conn.message(JSON.stringify({ type: 'subscribe', data: 'a' }));
    await tick();
    assert.equal(conn.closed?.code, 1011);
  });

  it('close reasons are cut to 123 UTF-8 bytes on a character boundary', () => {
    const { conn, peer } = setup();
    peer.close(4400, 'é'.repeat(200));
    const reason = conn.closed!.reason;
    assert.ok(Buffer.byteLength(reason) <= 123, `${Buffer.byteLength(reason)} bytes`);
    assert.ok(!reason.includes('\ufffd'));
    assert.ok(reason.length >= 60);
  });

  it('a frame that cannot be translated or sent is skipped and counted; later frames still go out', () => {
    const conn = new FakeConnection();
    const sent: string[] = [];
    const skipped: string[] = [];
    let fail = true;
    const sink = {
      write: (text: string) => {
        if (fail) {
          fail = false;
          throw new Error('socket exploded');
        }
        sent.push(text);
      },
      skipped: (channel: string) => void skipped.push(channel),
    };
    const tc = new TranslatingConnection(conn, 'process:x', sink, () => {});
    tc.send(record('stdout', 'one\n'));
    tc.send(record('stdout', 'two\n'));
    assert.deepEqual(skipped, ['process:x']);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /two/);
  });

  it('a GoWsPeer counts skipped frames and logs the first only', async () => {
    const { peer, lines } = setup();
    const sink = (peer as unknown as { sink: { skipped(c: string, e: unknown): void } }).sink;
    sink.skipped('a', new Error('bad frame 1'));
    sink.skipped('a', new Error('bad frame 2'));
    await tick();
    assert.equal(peer.skippedFrames, 2);
    assert.equal(lines.filter((l) => l.includes('bad frame')).length, 1);
  });

  it('replies stop and the connection closes with 4413 once the socket holds more than the bound', () => {
    const { conn } = setup({ maxBufferedBytes: 1000 });
    conn.message('{"type":"ping"}');
    assert.equal(conn.texts.length, 1);
    conn.bufferedAmount = 1001;
    conn.message('{"type":"ping"}');
    assert.equal(conn.texts.length, 1);
    assert.equal(conn.closed?.code, 4413);
    assert.match(conn.closed!.reason, /slow/i);
  });
});
