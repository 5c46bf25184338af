/** fast-check arbitraries shared by the protocol property tests. */
import fc from 'fast-check';
import { setOwn } from '../../src/protocol/own.js';
import type { JsonObject, JsonValue } from '../../src/protocol/utf8.js';

const key = fc.constantFrom('a', 'b', 'c', 'count', 'player', 'pos', 'x', 'y', 'name', 'tags');

/** JSON values without `null` (a state cannot hold null: null means delete in a merge patch). */
export function jsonLeaf(): fc.Arbitrary<JsonValue> {
  return fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 8 }), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)));
}

/** Small nested state objects with a shared key space, so diffs overlap meaningfully. */
export function jsonState(): fc.Arbitrary<JsonObject> {
  const { state } = fc.letrec<{ value: JsonValue; state: JsonObject }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      jsonLeaf(),
      fc.array(jsonLeaf(), { maxLength: 3 }),
      tie('state'),
    ),
    state: fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }) as fc.Arbitrary<JsonObject>,
  }));
  return state;
}

/**
 * Keys that are data on the wire but special to JavaScript objects: `__proto__` (a prototype
 * setter on assignment), `constructor`/`toString`/`hasOwnProperty` (inherited members on read),
 * `prototype`. Mixed with ordinary keys so that paths through them overlap.
 */
export const HOSTILE_KEYS = ['a', 'b', 'x', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'] as const;
const hostileKey = fc.constantFrom(...HOSTILE_KEYS);

/** A plain object with exactly these own entries (later duplicates win), `__proto__` included as data. */
export function objectFrom(entries: ReadonlyArray<readonly [string, JsonValue]>): JsonObject {
  const o: JsonObject = {};
  for (const [k, v] of entries) setOwn(o, k, v);
  return o;
}

/**
 * Nested objects over {@link HOSTILE_KEYS}. With `nulls`, members may be `null` (merge-patch
 * deletions, or un-normalized syncs); without, they are valid states.
 */
export function hostileJson(options: { nulls: boolean }): fc.Arbitrary<JsonObject> {
  const leaf = options.nulls ? fc.oneof(jsonLeaf(), fc.constant(null)) : jsonLeaf();
  const { state } = fc.letrec<{ value: JsonValue; state: JsonObject }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(fc.oneof(leaf, tie('state')), { maxLength: 2 }), tie('state')),
    state: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectFrom),
  }));
  return state;
}

import type { InputEvent } from '../../src/protocol/inputs.js';
import type { Message } from '../../src/protocol/message.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { encodeJson } from '../../src/protocol/utf8.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const f32 = fc.float({ noNaN: true });
const safeU64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ maxLength: 40, unit: 'grapheme' });
const bytes = fc.uint8Array({ maxLength: 64 });
const jsonAny: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);

/** Every input event type. */
export function inputEvent(): fc.Arbitrary<InputEvent> {
  return fc.oneof(
    fc.record({ input: fc.constant('pointer' as const), x: u16, y: u16, buttons: u8, phase: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ input: fc.constant('key' as const), keyCode: u16, modifiers: fc.integer({ min: 0, max: 15 }), phase: fc.integer({ min: 0, max: 1 }), key: text }),
    fc.record({ input: fc.constant('scroll' as const), dx: i16, dy: i16, x: u16, y: u16 }),
    fc.record({ input: fc.constant('touch' as const), id: u8, x: u16, y: u16, phase: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ input: fc.constant('gamepad-axis' as const), gamepad: u8, axis: u8, value: f32 }),
    fc.record({ input: fc.constant('gamepad-button' as const), gamepad: u8, button: u8, pressed: fc.boolean(), value: f32 }),
    fc.record({ input: fc.constant('text' as const), text }),
    fc.record({ input: fc.constant('action' as const), action: jsonAny }),
    fc.record({ input: fc.constant('resize' as const), width: u16, height: u16, pixelRatio: fc.integer({ min: 0, max: 0xffff }).map((c) => c / 100) }),
    fc.record({ input: fc.constant('midi' as const), data: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ input: fc.constant('bci' as const), channels: u16, samples: fc.array(f32, { maxLength: 16 }).map((a) => Float32Array.from(a)) }),
  );
}

const raster = (kind: 'pixels' | 'keyframe') =>
  fc.record({ w: fc.integer({ min: 0, max: 12 }), h: fc.integer({ min: 0, max: 12 }) }).chain(({ w, h }) =>
    fc.record({ kind: fc.constant(kind), width: fc.constant(w), height: fc.constant(h), data: fc.uint8Array({ minLength: w * h * 4, maxLength: w * h * 4 }) }),
  );
const opaque = (kind: 'compressed-pixels' | 'delta-pixels' | 'neural-frame') => fc.record({ kind: fc.constant(kind), width: u16, height: u16, data: bytes });
const pcm = (kind: 'audio-pcm' | 'neural-audio') =>
  fc.record({ kind: fc.constant(kind), sampleRate: fc.integer({ min: 0, max: 0xffffffff }), channels: u8, samples: fc.array(f32, { maxLength: 32 }).map((a) => Float32Array.from(a)) });
const logTime = fc.integer({ min: 0, max: 8.64e15 });
/** A status record: {status, exitCode?: integer|null, …extra}. */
const logStatus = fc
  .record(
    { status: fc.constantFrom('running', 'exited', 'killed', 'failed'), exitCode: fc.option(fc.integer({ min: -1, max: 255 }), { nil: null }), signal: fc.constantFrom('SIGTERM', 'SIGKILL'), pid: fc.nat() },
    { requiredKeys: ['status'] },
  )
  .map((v) => encodeJson(v));
const id = fc.oneof(fc.integer({ min: 0, max: 1e9 }), fc.string({ maxLength: 8 }));
const selectPaths = fc.uniqueArray(fc.constantFrom('a', 'b', 'count', 'player.pos', 'x.y.z'), { maxLength: 4 }).map((a) => (a.length === 0 ? null : [...a].sort()));

/** Every message kind of the protocol, with header extras. */
export function message(): fc.Arbitrary<Message> {
  const body: fc.Arbitrary<Message> = fc.oneof(
    raster('pixels'),
    raster('keyframe'),
    opaque('compressed-pixels'),
    opaque('delta-pixels'),
    opaque('neural-frame'),
    pcm('audio-pcm'),
    pcm('neural-audio'),
    fc.record({ kind: fc.constant('audio-compressed' as const), sampleRate: fc.integer({ min: 0, max: 0xffffffff }), channels: u8, data: bytes }),
    fc.record({ kind: fc.constant('haptic' as const), intensity: u8, durationMs: u16 }),
    fc.record({ kind: fc.constant('signal-sync' as const), state: jsonState() }),
    fc.record({ kind: fc.constant('signal-diff' as const), diff: jsonState() }),
    fc.record({
      kind: fc.constant('schema-announce' as const),
      schema: fc.record({ signals: fc.array(fc.string({ maxLength: 6 }), { maxLength: 4 }), mode: fc.constantFrom('signal', 'pixel') }),
    }),
    fc.record({ kind: fc.constant('subscribe-filter' as const), select: selectPaths }),
    fc.constant({ kind: 'ping' as const }),
    fc.constant({ kind: 'pong' as const }),
    fc.record({ kind: fc.constant('stream-end' as const), reason: text }),
    fc.record({ kind: fc.constant('hello' as const), hello: fc.record({ token: fc.string(), client: fc.string() }, { requiredKeys: [] }) }),
    fc.record({
      kind: fc.constant('welcome' as const),
      welcome: fc.record({
        id: fc.nat(),
        channel: fc.string({ maxLength: 10 }),
        role: fc.constantFrom('source' as const, 'receiver' as const, 'signal' as const),
        heartbeatMs: fc.nat(),
        maxPayload: fc.nat(),
        server: fc.constant('sluice/test'),
        logNext: safeU64,
        epoch: fc.string({ maxLength: 12 }),
        created: fc.boolean(),
        logAcked: safeU64,
      }, { requiredKeys: ['id', 'channel', 'role', 'heartbeatMs', 'maxPayload', 'server'] }),
    }),
    fc.record({ kind: fc.constant('error' as const), error: fc.record({ code: fc.nat(), name: fc.string(), message: fc.string() }) }),
    fc.record({ kind: fc.constant('resume' as const), offset: safeU64 }),
    fc.record({ kind: fc.constant('rpc-call' as const), call: fc.record({ id, method: fc.string({ maxLength: 10 }), params: jsonAny, timeoutMs: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), cancel: fc.boolean() }, { requiredKeys: ['id', 'method'] }) }),
    fc.record({ kind: fc.constant('rpc-result' as const), result: fc.record({ id, result: jsonAny }, { requiredKeys: ['id'] }) }),
    fc.record({ kind: fc.constant('log-record' as const), offset: safeU64, time: logTime, stream: fc.constantFrom('stdout' as const, 'stderr' as const), data: bytes }),
    fc.record({ kind: fc.constant('log-record' as const), offset: safeU64, time: logTime, stream: fc.constant('status' as const), data: logStatus }),
    fc.record({ kind: fc.constant('log-record' as const), offset: safeU64, time: logTime, stream: fc.constant('event' as const), data: jsonAny.map((v) => encodeJson(v)) }),
    fc.record({ kind: fc.constant('source-status' as const), status: fc.record({ online: fc.boolean(), since: fc.nat() }, { requiredKeys: ['online'] }) }),
    fc.record({ kind: fc.constant('history-truncated' as const), requested: safeU64, firstAvailable: safeU64 }),
    fc.record({ kind: fc.constant('log-ack' as const), logAcked: safeU64 }),
    inputEvent().map((event) => ({ kind: 'input' as const, event })),
  );
  const withBatch: fc.Arbitrary<Message> = fc.oneof(
    { weight: 20, arbitrary: body },
    { weight: 1, arbitrary: fc.array(body, { minLength: 1, maxLength: 4 }).map((ms) => ({ kind: 'batch' as const, frames: ms.map((m) => encodeMessage(m)) })) },
  );
  return fc.tuple(withBatch, u16, fc.integer({ min: 0, max: 0xffffffff }), fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined })).map(
    ([m, seq, timestamp, sender]) => (sender === undefined ? { ...m, seq, timestamp } : { ...m, seq, timestamp, sender }),
  );
}
