/**
 * Payloads of the control frames Sluice adds to the seed protocol (codes 0xA0–0xAA, 0xFD).
 * JSON ones are validated field by field, because they arrive from untrusted peers.
 *
 *   Hello 0xA0            JSON {token?, select?, resumeFrom?, client?, media?}   client → relay
 *   Welcome 0xA1          JSON {id, channel, role, kind?, heartbeatMs, maxPayload, server, logNext?,
 *                              epoch?, created?, logAcked?}
 *   Error 0xA2            JSON {code, name, message}                              relay → client
 *   Resume 0xA3           offset u64: the next log offset the receiver wants     receiver → relay
 *   RpcCall 0xA4          JSON {id, method, params?, timeoutMs?, cancel?}        receiver → source
 *   RpcResult 0xA5        JSON {id, result?, error?: {code, message}}            source → receiver
 *   LogRecord 0xA6        offset u64 | time u64 (ms since epoch) | stream u8 | data…
 *   SourceStatus 0xA7     JSON {online, since?}                                  relay → receiver
 *   HistoryTruncated 0xA8 requested u64 | firstAvailable u64                     relay → receiver
 *   LogAck 0xAA           seq u64: producer records up to seq are committed       relay → source
 *
 * u64 values are exchanged as JS numbers; values above 2^53 − 1 are refused.
 */
import { ProtocolError } from './errors.js';
import { parseSelect } from './select.js';
import { decodeJson, decodeJsonObject, isJsonObject } from './utf8.js';
import type { JsonObject, JsonValue } from './utf8.js';

export type Role = 'source' | 'receiver' | 'signal';
export type ChannelKind = 'state' | 'pixels' | 'audio' | 'log';

export interface HelloInfo {
  token?: string;
  /** Parsed as by parseSelect (sorted, de-duplicated); `[]` when it means everything (`[]`, `["*"]`). */
  select?: string[];
  resumeFrom?: number;
  client?: string;
  /**
   * Receivers: `false` pauses media (pictures, audio, haptics, neural frames) for this connection,
   * `true` resumes it with the current picture; absent leaves it as it is (on at connect).
   */
  media?: boolean;
}
export interface WelcomeInfo {
  id: number;
  channel: string;
  role: Role;
  kind?: ChannelKind;
  heartbeatMs: number;
  maxPayload: number;
  server: string;
  /** Receivers: the offset the channel's next log record will get (history ends just before it). */
  logNext?: number;
  /**
   * Identifies the relay's copy of the channel data (random per relay process start). A different
   * epoch than on the previous connection voids all earlier state and log offsets.
   */
  epoch?: string;
  /** Receivers: true when this connection created the channel (the relay knew nothing of it). */
  created?: boolean;
  /** Sources: the highest producer seq the relay has committed for this source's producer id; 0 when none. */
  logAcked?: number;
}
export interface ErrorInfo {
  code: number;
  name: string;
  message: string;
}
export interface RpcCallInfo {
  id: string | number;
  method: string;
  params?: JsonValue;
  /** The caller gives up after this many ms: a source must not start the handler later than that after receipt. */
  timeoutMs?: number;
  /** The caller withdrew the call with this id: a source drops it unless its handler has started. */
  cancel?: boolean;
}
export interface RpcResultInfo {
  id: string | number;
  result?: JsonValue;
  error?: { code: string; message: string };
}
export interface SourceStatusInfo {
  online: boolean;
  since?: number;
}
export interface SchemaInfo {
  /** Public field names, in announce order. */
  signals: string[];
  /** `signal` (state) or `pixel`, as in the seed; other strings are carried through. */
  mode: string;
  kind?: ChannelKind;
  /** Stable numeric field ids for schema evolution (optional). */
  fields?: Record<string, number>;
}

/** Which stream of a process a log record belongs to. */
export const LogStream = { Stdout: 0, Stderr: 1, Status: 2, Event: 3 } as const;
export type LogStreamName = 'stdout' | 'stderr' | 'status' | 'event';
export const LOG_STREAM_NAMES: readonly LogStreamName[] = ['stdout', 'stderr', 'status', 'event'];

export const LOG_RECORD_PREFIX = 17;

/** Latest LogRecord `time` accepted: the end of the JavaScript Date range (ms since the epoch). */
export const MAX_LOG_TIME = 8.64e15;

/** The JSON of a `status` log record; extra fields are carried through. */
export interface LogStatusInfo {
  status: string;
  exitCode?: number | null;
  [extra: string]: JsonValue | undefined;
}

/**
 * Checks the data of a LogRecord of stream `stream` (stdout/stderr: raw bytes, unchecked).
 * `status`: a UTF-8 JSON object with a string `status` and an optional integer-or-null
 * `exitCode`; `event`: any UTF-8 JSON value. Both within `maxJson` bytes and the depth limit.
 */
export function validateLogData(stream: LogStreamName, data: Uint8Array, maxJson?: number): void {
  if (stream === 'status') validateLogStatus(decodeJsonObject(data, 'status log record', maxJson));
  else if (stream === 'event') decodeJson(data, maxJson);
}

export function validateLogStatus(o: JsonObject): LogStatusInfo {
  if (!isStr(o.status)) bad('status log record needs a string status');
  const code = o.exitCode;
  if (code !== undefined && code !== null && !Number.isSafeInteger(code)) bad('status log record exitCode must be an integer or null');
  return o as LogStatusInfo;
}
const TWO32 = 2 ** 32;

export function writeU64(v: DataView, at: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`u64 value out of range: ${n}`);
  v.setUint32(at, n % TWO32, true);
  v.setUint32(at + 4, Math.floor(n / TWO32), true);
}

export function readU64(v: DataView, at: number): number {
  const lo = v.getUint32(at, true);
  const hi = v.getUint32(at + 4, true);
  if (hi > 0x1fffff) throw new ProtocolError('bad-payload', 'u64 value above 2^53 - 1');
  return hi * TWO32 + lo;
}

function bad(what: string): never {
  throw new ProtocolError('bad-payload', what);
}
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isId = (v: unknown): v is string | number => isStr(v) || isNum(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function validateHello(o: JsonObject): HelloInfo {
  const out: HelloInfo = {};
  if (o.token !== undefined) out.token = isStr(o.token) ? o.token : bad('hello.token must be a string');
  if (o.select !== undefined) {
    // Validated exactly like a SubscribeFilter or ?select=; [] stands for "everything".
    if (!Array.isArray(o.select)) bad('hello.select must be an array of strings');
    out.select = parseSelect(o.select) ?? [];
  }
  if (o.resumeFrom !== undefined) {
    out.resumeFrom = isCount(o.resumeFrom) ? o.resumeFrom : bad('hello.resumeFrom must be a non-negative integer');
  }
  if (o.client !== undefined) out.client = isStr(o.client) ? o.client : bad('hello.client must be a string');
  if (o.media !== undefined) out.media = typeof o.media === 'boolean' ? o.media : bad('hello.media must be a boolean');
  return out;
}

const ROLES: readonly string[] = ['source', 'receiver', 'signal'];
const KINDS: readonly string[] = ['state', 'pixels', 'audio', 'log'];

export function validateWelcome(o: JsonObject): WelcomeInfo {
  if (!isNum(o.id) || !isStr(o.channel) || !isStr(o.role) || !ROLES.includes(o.role)) bad('welcome needs id, channel and role');
  if (!isNum(o.heartbeatMs) || !isNum(o.maxPayload) || !isStr(o.server)) bad('welcome needs heartbeatMs, maxPayload and server');
  const out: WelcomeInfo = { id: o.id, channel: o.channel, role: o.role as Role, heartbeatMs: o.heartbeatMs, maxPayload: o.maxPayload, server: o.server };
  if (o.kind !== undefined) out.kind = isStr(o.kind) && KINDS.includes(o.kind) ? (o.kind as ChannelKind) : bad('welcome.kind is unknown');
  if (o.logNext !== undefined) out.logNext = isCount(o.logNext) ? o.logNext : bad('welcome.logNext must be a non-negative integer');
  if (o.epoch !== undefined) out.epoch = isStr(o.epoch) ? o.epoch : bad('welcome.epoch must be a string');
  if (o.created !== undefined) out.created = typeof o.created === 'boolean' ? o.created : bad('welcome.created must be a boolean');
  if (o.logAcked !== undefined) out.logAcked = isCount(o.logAcked) ? o.logAcked : bad('welcome.logAcked must be a non-negative integer');
  return out;
}

export function validateError(o: JsonObject): ErrorInfo {
  if (!isNum(o.code) || !isStr(o.name) || !isStr(o.message)) bad('error needs code, name and message');
  return { code: o.code, name: o.name, message: o.message };
}

export function validateRpcCall(o: JsonObject): RpcCallInfo {
  if (!isId(o.id) || !isStr(o.method)) bad('rpc call needs id and method');
  const out: RpcCallInfo = { id: o.id, method: o.method };
  if (o.params !== undefined) out.params = o.params;
  if (o.timeoutMs !== undefined) out.timeoutMs = isCount(o.timeoutMs) && o.timeoutMs > 0 ? o.timeoutMs : bad('rpc call timeoutMs must be a positive integer');
  if (o.cancel !== undefined) out.cancel = typeof o.cancel === 'boolean' ? o.cancel : bad('rpc call cancel must be a boolean');
  return out;
}

export function validateRpcResult(o: JsonObject): RpcResultInfo {
  if (!isId(o.id)) bad('rpc result needs an id');
  const out: RpcResultInfo = { id: o.id };
  if (o.result !== undefined) out.result = o.result;
  if (o.error !== undefined) {
    const e = o.error;
    if (!isJsonObject(e) || !isStr(e.code) || !isStr(e.message)) bad('rpc result error needs code and message');
    out.error = { code: e.code, message: e.message };
  }
  return out;
}

export function validateSourceStatus(o: JsonObject): SourceStatusInfo {
  if (typeof o.online !== 'boolean') bad('source status needs a boolean online');
  const out: SourceStatusInfo = { online: o.online };
  if (o.since !== undefined) out.since = isNum(o.since) ? o.since : bad('source status since must be a number');
  return out;
}

export function validateSchema(o: JsonObject): SchemaInfo {
  if (!Array.isArray(o.signals) || !o.signals.every(isStr) || !isStr(o.mode)) bad('schema needs signals (strings) and mode');
  const out: SchemaInfo = { signals: o.signals as string[], mode: o.mode };
  if (o.kind !== undefined) out.kind = isStr(o.kind) && KINDS.includes(o.kind) ? (o.kind as ChannelKind) : bad('schema.kind is unknown');
  if (o.fields !== undefined) {
    const f = o.fields;
    if (!isJsonObject(f) || !Object.values(f).every((x) => Number.isSafeInteger(x))) bad('schema.fields maps names to integer ids');
    out.fields = f as Record<string, number>;
  }
  return out;
}
