/**
 * How a streamed process's records reach the relay, and how `done` learns that they did.
 *
 * With the client SDK's acknowledged log (`Source#log(stream, data)`, which numbers each record
 * with a producer sequence, keeps it until the relay's LogAck covers it and resends it after a
 * reconnect; and `Source#logsAcked(timeoutMs?)`, which settles once every record so far is
 * acknowledged), a record is delivered exactly once, in order, across dropped connections, and
 * `settled()` means "the relay committed every record".
 *
 * Without it (an SDK before the acknowledged log), records go out as raw LogRecord frames; those
 * produced while disconnected wait in a backlog and go first on reconnect, and `settled()` only
 * means "every record was handed to a socket" — a record in flight when a connection drops is
 * lost. `acknowledged` says which of the two this is.
 */
import type { Source } from '../client/source.js';
import type { LogStreamName } from '../protocol/control.js';
import { encodeMessage } from '../protocol/message.js';

/** The acknowledged-log part of the SDK's Source (see the module comment). */
interface AckedLogSource {
  log(stream: LogStreamName, data: Uint8Array): unknown;
  logsAcked(timeoutMs?: number): Promise<unknown>;
}

export type DeliveryResult = { ok: true } | { ok: false; reason: string };

export interface LogDelivery {
  /** True when the relay acknowledges records (the SDK's acknowledged log is available). */
  readonly acknowledged: boolean;
  write(stream: LogStreamName, data: Uint8Array): void;
  /** Resolves once every record written so far is delivered, or with the reason it was not within `timeoutMs`. */
  settled(timeoutMs: number): Promise<DeliveryResult>;
}

export function hasAckedLog(src: object): src is AckedLogSource {
  const s = src as Partial<AckedLogSource>;
  return typeof s.log === 'function' && typeof s.logsAcked === 'function';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any state shape
export function logDelivery(src: Source<any>): LogDelivery {
  return hasAckedLog(src) ? ackedDelivery(src) : socketDelivery(src);
}

function ackedDelivery(src: AckedLogSource): LogDelivery {
  return {
    acknowledged: true,
    write: (stream, data) => void src.log(stream, data),
    async settled(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const giveUp = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs + 1000)));
      try {
        // `false` or a rejection: not confirmed in time; anything else: confirmed.
        const r = await Promise.race([src.logsAcked(timeoutMs), giveUp]);
        return r === false ? { ok: false, reason: `the relay did not confirm every record within ${timeoutMs} ms` } : { ok: true };
      } catch (e) {
        return { ok: false, reason: `the relay did not confirm every record: ${(e as Error).message ?? String(e)}` };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any state shape
function socketDelivery(src: Source<any>): LogDelivery {
  const backlog: Uint8Array[] = [];
  const drain = () => {
    while (backlog.length > 0 && src.publishFrame(backlog[0]!)) backlog.shift();
  };
  src.on('open', drain);
  return {
    acknowledged: false,
    write(stream, data) {
      const frame = encodeMessage({ kind: 'log-record', offset: 0, time: Date.now(), stream, data, timestamp: Date.now() >>> 0 });
      if (backlog.length === 0 && src.publishFrame(frame)) return;
      backlog.push(frame);
    },
    async settled(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (backlog.length > 0 && Date.now() < deadline) {
        drain();
        if (backlog.length > 0) await new Promise((r) => setTimeout(r, 20));
      }
      return backlog.length === 0 ? { ok: true } : { ok: false, reason: `${backlog.length} records could not be sent within ${timeoutMs} ms` };
    },
  };
}
