// Model-based tests of the channel core, without sockets: fake connections whose buffered amount
// the test controls let fast-check drive random sequences of syncs, diffs (nulls, nested deletes,
// reserved keys, arrays), joins and leaves mid-tick, filter changes (`*`, commas, Hello), stalls
// and drains, log appends and resumes. Invariants at quiescence: every receiver holds exactly the
// projection of the source's state; every log receiver got each record once, in order; queues
// stay within their bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { decodeMessage, encodeMessage } from '../../src/protocol/message.js';
import type { Message } from '../../src/protocol/message.js';
import type { JsonObject, JsonValue } from '../../src/protocol/utf8.js';
import { Channel } from '../../src/relay/channel.js';
import type { ChannelContext } from '../../src/relay/channel.js';
import { DEFAULT_CONFIG } from '../../src/relay/config.js';
import { MemoryEngine } from '../../src/relay/engines/memory-engine.js';
import { FlushScheduler } from '../../src/relay/flush-scheduler.js';
import { SourcePeer } from '../../src/relay/peer.js';
import { ReceiverPeer } from '../../src/relay/receiver-peer.js';
import { RelayTotals } from '../../src/relay/stats.js';
import type { PeerConnection, PeerHandlers } from '../../src/relay/transport.js';

// ------------------------------------------------------------------ reference semantics

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
function put(o: JsonObject, k: string, v: JsonValue): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** RFC 7386 merge patch, written independently of the relay's (reserved keys are plain data). */
function refPatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObj(patch)) return patch;
  const out: JsonObject = {};
  if (isObj(target)) for (const k of Object.keys(target)) put(out, k, target[k]!);
  for (const k of Object.keys(patch)) {
    const v = patch[k]!;
    if (v === null) delete out[k];
    else put(out, k, refPatch(own(out, k) ? out[k] : undefined, v));
  }
  return out;
}

function refProject(state: JsonObject, select: string[] | null): JsonObject {
  if (select === null) return state;
  const out: JsonObject = {};
  for (const path of select) {
    const segs = path.split('.');
    let src: JsonValue = state;
    let ok = true;
    for (const s of segs) {
      if (!isObj(src) || !own(src, s)) {
        ok = false;
        break;
      }
      src = src[s]!;
    }
    if (!ok) continue;
    let dst = out;
    for (let i = 0; i < segs.length - 1; i++) {
      const s = segs[i]!;
      if (!own(dst, s) || !isObj(dst[s])) put(dst, s, {});
      dst = dst[s] as JsonObject;
    }
    put(dst, segs[segs.length - 1]!, src);
  }
  return out;
}

/** JSON.stringify with sorted keys, for order-independent comparison. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

// ------------------------------------------------------------------ fakes

class FakeConnection implements PeerConnection {
  readonly remoteAddress = '127.0.0.1';
  readonly acceptsFramed = false;
  readonly concatenable = false;
  isOpen = true;
  /** While stalled, written frames wait here (the socket's send buffer) and count as buffered. */
  stalled = false;
  private inflight: Uint8Array[] = [];
  private inflightBytes = 0;
  readonly delivered: Uint8Array[] = [];
  closeCode: number | undefined;
  handlers: PeerHandlers | undefined;
  pings = 0;
  get bufferedAmount() {
    return this.inflightBytes;
  }
  send(data: Uint8Array) {
    if (!this.isOpen) return;
    if (this.stalled) {
      this.inflight.push(data);
      this.inflightBytes += data.length;
    } else this.delivered.push(data);
  }
  sendText() {}
  writeFramed() {
    throw new Error('not framed');
  }
  batch(fn: () => void) {
    fn();
  }
  close(code: number) {
    this.closeCode ??= code;
    this.isOpen = false;
  }
  terminate() {
    this.close(1006);
  }
  ping() {
    this.pings++;
  }
  pause() {}
  resume() {}
  setHandlers(h: PeerHandlers) {
    this.handlers = h;
  }
  /** The peer reads everything: in-flight frames arrive. Returns true if anything moved. */
  drain(): boolean {
    this.stalled = false;
    const moved = this.inflight.length > 0;
    this.delivered.push(...this.inflight);
    this.inflight = [];
    this.inflightBytes = 0;
    return moved;
  }
}

interface ModelReceiver {
  peer: ReceiverPeer;
  conn: FakeConnection;
  select: string[] | null;
  read: number;
  state: JsonObject;
  hasState: boolean;
  logOffsets: number[];
  resumedAt: number | undefined;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function makeWorld(overrides: Partial<typeof DEFAULT_CONFIG> = {}) {
  const config = { ...DEFAULT_CONFIG, receiverHighWaterBytes: 600, logReceiverMaxBytes: 1 << 30, ...overrides };
  const scheduler = new FlushScheduler((e) => {
    throw e;
  });
  const log = pino({ level: 'silent' });
  const ctx: ChannelContext = {
    config,
    totals: new RelayTotals(),
    scheduler,
    engine: new MemoryEngine({ logRetainRecords: config.logRetainRecords, logRetainBytes: config.logRetainBytes }),
    log,
    peer: { scheduler, frame: (p) => p },
  };
  const channel = new Channel('model', ctx);
  let nextId = 1;
  const srcConn = new FakeConnection();
  const source = new SourcePeer(nextId++, srcConn, log, () => ({}), ctx.peer, () => {});
  channel.attachSource(source);
  const receivers: ModelReceiver[] = [];
  const publish = (m: Message) => channel.onSourceMessage(source, encodeMessage(m));

  const join = (select: string[] | null, how: 'url' | 'hello' | 'filter', resume: number | undefined, resumeBy: 'url' | 'frame') => {
    const conn = new FakeConnection();
    const peer = new ReceiverPeer(nextId++, conn, log, () => ({}), ctx.peer, () => {});
    const r: ModelReceiver = { peer, conn, select: select === null || select.includes('*') ? null : select, read: 0, state: {}, hasState: false, logOffsets: [], resumedAt: resume };
    receivers.push(r);
    channel.attachReceiver(peer, how === 'url' ? (r.select ? [...new Set(r.select)].sort() : null) : null, resumeBy === 'url' ? resume : undefined, true);
    // Its first frames (if any) arrive before it answers the relay's ping.
    if (how === 'hello') channel.onReceiverMessage(peer, encodeMessage({ kind: 'hello', hello: { select: select ?? [] } }));
    if (how === 'filter') channel.onReceiverMessage(peer, encodeMessage({ kind: 'subscribe-filter', select }));
    if (resume !== undefined && resumeBy === 'frame') channel.onReceiverMessage(peer, encodeMessage({ kind: 'resume', offset: resume }));
    channel.activate(peer); // what its pong leads to
  };

  /** Applies what each receiver got since last time, like a client. */
  const read = (r: ModelReceiver) => {
    for (; r.read < r.conn.delivered.length; r.read++) {
      const bytes = r.conn.delivered[r.read]!;
      const m = decodeMessage(bytes, { maxPayload: 1 << 30 });
      if (m.kind === 'signal-sync') {
        r.state = m.state;
        r.hasState = true;
      } else if (m.kind === 'signal-diff') {
        assert.ok(r.hasState, 'a diff arrived before any sync');
        r.state = refPatch(r.state, m.diff) as JsonObject;
      } else if (m.kind === 'log-record') r.logOffsets.push(m.offset);
      else if (m.kind === 'history-truncated') r.logOffsets.push(-1);
    }
  };

  /** Everyone reads everything until nothing moves any more (drains, paced replays, flushes). */
  const quiesce = async () => {
    const delivered = () => receivers.reduce((n, r) => n + r.conn.delivered.length, 0);
    let last = -1;
    for (let round = 0; round < 500; round++) {
      for (const r of receivers) {
        if (r.peer.closed) continue;
        r.conn.drain();
        w(r);
      }
      await tick();
      await tick();
      const now = delivered();
      if (now === last && receivers.every((r) => r.peer.closed || r.conn.bufferedAmount === 0)) break;
      last = now;
    }
    for (const r of receivers) read(r);
  };
  const w = (r: ModelReceiver) => channel.onReceiverDrain(r.peer);

  return { channel, ctx, source, srcConn, receivers, publish, join, read, quiesce };
}

// ------------------------------------------------------------------ arbitraries

const keyArb = fc.constantFrom('a', 'b', 'c', 'x', 'y', '__proto__', 'constructor', 'a,b', 'toString');
const leafArb: fc.Arbitrary<JsonValue> = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.boolean(), fc.constantFrom('s', 'é€😀'), fc.constant(null));
const valueArb: fc.Arbitrary<JsonObject> = fc.letrec<{ v: JsonValue; o: JsonObject }>((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leafArb, fc.array(leafArb, { maxLength: 2 }), tie('o')),
  o: fc.array(fc.tuple(keyArb, tie('v')), { maxLength: 4 }).map((entries) => {
    const o: JsonObject = {};
    for (const [k, v] of entries) put(o, k, v);
    return o;
  }),
})).o;
const selectArb: fc.Arbitrary<string[] | null> = fc.constantFrom<string[] | null>(
  null,
  ['*'],
  ['a,b'],
  ['a', 'b'],
  ['b', 'c.y'],
  ['a.x', 'a.y'],
  ['__proto__', 'c.__proto__'],
  ['constructor.x'],
);

type Op =
  | { op: 'sync'; state: JsonObject }
  | { op: 'diff'; diff: JsonObject }
  | { op: 'join'; select: string[] | null; how: 'url' | 'hello' | 'filter' }
  | { op: 'leave'; i: number }
  | { op: 'filter'; i: number; select: string[] | null; how: 'filter' | 'hello' }
  | { op: 'stall'; i: number }
  | { op: 'drain'; i: number }
  | { op: 'tick' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: valueArb.map((state) => ({ op: 'sync' as const, state })) },
  { weight: 6, arbitrary: valueArb.map((diff) => ({ op: 'diff' as const, diff })) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('join' as const), select: selectArb, how: fc.constantFrom('url' as const, 'hello' as const, 'filter' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('leave' as const), i: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('filter' as const), i: fc.nat(9), select: selectArb, how: fc.constantFrom('filter' as const, 'hello' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('stall' as const), i: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drain' as const), i: fc.nat(9) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'tick' as const }) },
);

// ------------------------------------------------------------------ properties

describe('channel core model', () => {
  it('every receiver holds the projection of the source state after any mix of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const w = makeWorld();
        let truth: JsonObject = {};
        let hasTruth = false;
        for (const o of ops) {
          const live = w.receivers.filter((r) => !r.peer.closed);
          const pick = (i: number) => live[i % Math.max(1, live.length)];
          switch (o.op) {
            case 'sync':
              truth = refPatch({}, o.state) as JsonObject;
              hasTruth = true;
              w.publish({ kind: 'signal-sync', state: o.state });
              break;
            case 'diff':
              truth = refPatch(truth, o.diff) as JsonObject;
              hasTruth = true;
              w.publish({ kind: 'signal-diff', diff: o.diff });
              break;
            case 'join':
              w.join(o.select, o.how, undefined, 'url');
              break;
            case 'leave': {
              const r = pick(o.i);
              if (r) {
                r.peer.closed = true;
                w.channel.detachReceiver(r.peer);
              }
              break;
            }
            case 'filter': {
              const r = pick(o.i);
              if (!r) break;
              r.select = o.select === null || o.select.includes('*') ? null : o.select;
              w.channel.onReceiverMessage(r.peer, encodeMessage(o.how === 'hello' ? { kind: 'hello', hello: { select: o.select ?? [] } } : { kind: 'subscribe-filter', select: o.select }));
              break;
            }
            case 'stall': {
              const r = pick(o.i);
              if (r) r.conn.stalled = true;
              break;
            }
            case 'drain': {
              const r = pick(o.i);
              if (r) {
                r.conn.drain();
                w.channel.onReceiverDrain(r.peer);
              }
              break;
            }
            case 'tick':
              await tick();
              break;
          }
        }
        await w.quiesce();
        for (const r of w.receivers) {
          if (r.peer.closed) continue;
          assert.equal(r.hasState, hasTruth, 'a receiver has state exactly when the channel has');
          assert.equal(canon(r.state), canon(refProject(truth, r.select)), `select ${JSON.stringify(r.select)}`);
        }
        // Never a prototype set from data.
        assert.equal(Object.getPrototypeOf({}), Object.prototype);
        assert.equal(({} as Record<string, unknown>).x, undefined);
      }),
      {
        numRuns: Number(process.env.SLUICE_MODEL_RUNS ?? 300),
        examples: [
          // Seen in the field: a nested delete left live receivers at {c:{}}, joiners at {}.
          [[{ op: 'sync', state: { b: 2, c: { x: 1, y: 2 } } }, { op: 'join', select: ['b', 'c.y'], how: 'url' }, { op: 'tick' }, { op: 'diff', diff: { b: null, c: { y: null } } }]],
          // `*` once collided with "no filter": later unfiltered receivers got {} and no diffs.
          [[{ op: 'join', select: ['*'], how: 'url' }, { op: 'leave', i: 0 }, { op: 'join', select: null, how: 'url' }, { op: 'sync', state: { a: 1 } }, { op: 'diff', diff: { b: 2 } }]],
          // A single path named "a,b" once shared a group with select a,b.
          [[{ op: 'sync', state: { a: 1, b: 2, 'a,b': 3 } }, { op: 'join', select: ['a,b'], how: 'filter' }, { op: 'join', select: ['a', 'b'], how: 'url' }, { op: 'diff', diff: { a: 5 } }]],
          // A null inside a sync was cached as is for late joiners.
          [[{ op: 'sync', state: { a: null, b: 1 } }, { op: 'join', select: null, how: 'url' }]],
          // __proto__ in a diff set the merged object's prototype.
          [[{ op: 'sync', state: { a: 1 } }, { op: 'diff', diff: JSON.parse('{"__proto__":{"x":1}}') as JsonObject }, { op: 'join', select: null, how: 'url' }]],
          // A Hello with a select first got the full, unprojected sync.
          [[{ op: 'sync', state: { a: 1, secret: 2 } }, { op: 'join', select: ['a'], how: 'hello' }]],
          // A receiver connected before a source whose first state is {} never became ready.
          [[{ op: 'join', select: ['a'], how: 'url' }, { op: 'sync', state: {} }]],
        ] as [Op[]][],
      },
    );
  });

  it('a receiver that keeps changing its filter while not reading holds at most one pending sync', async () => {
    const w = makeWorld({ receiverHighWaterBytes: 1024 });
    const big: JsonObject = {};
    for (let i = 0; i < 200; i++) big[`k${i}`] = 'x'.repeat(100);
    w.publish({ kind: 'signal-sync', state: big });
    w.join(null, 'url', undefined, 'url');
    const r = w.receivers[0]!;
    r.conn.stalled = true;
    await tick();
    const before = r.conn.bufferedAmount;
    for (let i = 0; i < 200; i++) w.channel.onReceiverMessage(r.peer, encodeMessage({ kind: 'subscribe-filter', select: i % 2 ? null : ['k1'] }));
    await tick();
    assert.ok(r.conn.bufferedAmount - before < 30_000, `queued ${r.conn.bufferedAmount - before} bytes for 200 filter changes`);
    r.select = null;
    await w.quiesce();
    assert.equal(canon(r.state), canon(big));
  });

  it('log receivers get every record once, in order, whatever their joins, resumes and stalls', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ op: fc.constant('join' as const), resume: fc.option(fc.nat(60), { nil: undefined }), by: fc.constantFrom('url' as const, 'frame' as const) }),
            fc.record({ op: fc.constant('stall' as const), i: fc.nat(5) }),
            fc.record({ op: fc.constant('drain' as const), i: fc.nat(5) }),
            fc.constant({ op: 'tick' as const }),
          ),
          { maxLength: 30 },
        ),
        async (ops) => {
          const w = makeWorld({ receiverHighWaterBytes: 400 });
          let appended = 0;
          for (const o of ops) {
            if (o.op === 'append') {
              for (let k = 0; k < o.n; k++) w.publish({ kind: 'log-record', offset: 0, time: 1, stream: 'stdout', data: new TextEncoder().encode(`line ${appended++}\n`) });
            } else if (o.op === 'join') {
              w.join(null, 'url', o.resume, o.by);
              // Asking for an offset the log never had restarts from its first record.
              w.receivers[w.receivers.length - 1]!.resumedAt = o.resume !== undefined && o.resume <= appended ? o.resume : 0;
            }
            else if (o.op === 'stall') {
              const r = w.receivers[o.i % Math.max(1, w.receivers.length)];
              if (r) r.conn.stalled = true;
            } else if (o.op === 'drain') {
              const r = w.receivers[o.i % Math.max(1, w.receivers.length)];
              if (r) {
                r.conn.drain();
                w.channel.onReceiverDrain(r.peer);
              }
            } else await tick();
          }
          await w.quiesce();
          for (const r of w.receivers) {
            const got = r.logOffsets.filter((x) => x >= 0);
            const start = r.resumedAt ?? 0;
            assert.deepEqual(got, Array.from({ length: appended - start }, (_, k) => start + k), `resume ${r.resumedAt}`);
          }
        },
      ),
      { numRuns: Number(process.env.SLUICE_MODEL_RUNS ?? 150) },
    );
  });

  it('queues stay bounded: private frames past the limit close the peer with 4413', async () => {
    const w = makeWorld({ logReceiverMaxBytes: 4096 });
    w.join(null, 'url', undefined, 'url');
    const r = w.receivers[0]!;
    r.peer.queueLimit = 4096;
    r.peer.overflow = () => w.channel.refuse(r.peer, 4413, 'too slow');
    r.conn.stalled = true;
    w.srcConn.stalled = false;
    // RPC results addressed to a receiver that does not read.
    for (let i = 0; i < 200 && !r.peer.closed; i++) {
      w.channel.onSourceMessage(w.source, encodeMessage({ kind: 'rpc-result', sender: r.peer.id, result: { id: i, result: 'x'.repeat(100) } }));
      await tick();
    }
    assert.equal(r.conn.closeCode, 4413);
  });
});
