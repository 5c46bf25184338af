/**
 * How a command learns whether it reached the relay: the first contact (a Welcome, or an open
 * source) within `--timeout`, refusals that will not be retried, and a one-line reason when the
 * relay cannot be reached ("cannot reach relay at ws://…: ECONNREFUSED").
 *
 * Everything the command line needs from the client SDK's lifecycle goes through here, so the
 * commands do not depend on how a view or source reports it. Today's SDK reports a Welcome with
 * the view's `welcome` event, a connected source with `open`, and a fatal refusal with an `error`
 * event plus the `error` getter; the newer SDK adds a `state` event
 * `{previous, current: 'connecting'|'live'|'reconnecting'|'closed'|'refused', error?}` — both are
 * understood.
 */
import { connect } from 'node:net';
import { CloseCode, closeCodeInfo } from '../protocol/close-codes.js';
import { isValidChannelName } from '../protocol/channel-name.js';

/** Default for `--timeout`: how long a command waits to first reach the relay (ms). */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The lifecycle surface of a view or a source, as far as the command line cares. */
export interface LinkTarget {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any SDK emitter, old or new event names
  on(event: string, fn: (...args: any[]) => void): () => void;
  readonly error?: unknown;
}

export type ContactResult = { ok: true } | { ok: false; fatal: boolean; reason: string };

/** A refused connection as one line: `refused: 4404 not found: no such channel`. */
export function describeRefusal(error: unknown): string {
  const e = error as { closeCode?: unknown; reason?: unknown; message?: unknown } | undefined;
  if (e && typeof e.closeCode === 'number') {
    const info = closeCodeInfo(e.closeCode);
    const words = info.name === 'Unknown' ? 'closed' : info.name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    const text = typeof e.reason === 'string' ? e.reason : typeof e.message === 'string' ? e.message : '';
    const reason = text ? `: ${text}` : '';
    return `refused: ${e.closeCode} ${words}${reason}`;
  }
  return `refused: ${typeof e?.message === 'string' ? e.message : String(error)}`;
}

/** True when `error` stopped the connection for good (not a passing relay Error frame). */
function isFatal(target: LinkTarget, error: unknown): boolean {
  return target.error !== undefined && target.error === error;
}

/**
 * True for errors that are part of reaching the relay: the fatal refusal, and, before the first
 * Welcome, anything carrying a close code (the relay's Error frame that precedes its close; an
 * SDK's "unreachable, retrying" notices). Commands report those once, as the outcome of
 * `firstContact` / `onFatal`, instead of line by line.
 */
export function isRefusalNotice(target: LinkTarget & { readonly welcome?: unknown }, error: unknown): boolean {
  if (target.error !== undefined && target.error === error) return true;
  return target.welcome === undefined && typeof (error as { closeCode?: unknown })?.closeCode === 'number';
}

/** Calls `fn` once when the connection is refused for good (now or later). Returns an unsubscribe. */
export function onFatal(target: LinkTarget, fn: (reason: string) => void): () => void {
  let fired = false;
  const fire = (error: unknown) => {
    if (fired) return;
    fired = true;
    fn(describeRefusal(error));
  };
  const offs = [
    target.on('error', (e: unknown) => {
      if (isFatal(target, e)) fire(e);
    }),
    target.on('state', (s: { current?: string; error?: unknown }) => {
      if (s?.current === 'refused') fire(s.error ?? target.error);
    }),
    // A bare Connection reports it as `refused`.
    target.on('refused', (e: unknown) => fire(e)),
  ];
  if (target.error !== undefined) queueMicrotask(() => fire(target.error));
  return () => offs.forEach((off) => off());
}

/**
 * Waits until `target` reached the relay (Welcome for a view, open for a source), is refused for
 * good, or `timeoutMs` passes; on a timeout, the reason says what stands in the way.
 */
export function firstContact(target: LinkTarget, url: string, timeoutMs: number): Promise<ContactResult> {
  return new Promise((resolve) => {
    const offs: Array<() => void> = [];
    let settled = false;
    const settle = (r: ContactResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      offs.forEach((off) => off());
      resolve(r);
    };
    // The last refusal the relay gave while we kept retrying (e.g. 4509 no capacity) explains a timeout best.
    let lastRefusal: unknown;
    const timer = setTimeout(() => {
      const why = lastRefusal !== undefined ? Promise.resolve(`relay at ${url} ${describeRefusal(lastRefusal)}`) : unreachableReason(url, Math.min(2000, Math.max(200, timeoutMs)));
      void why.then((reason) => settle({ ok: false, fatal: false, reason: `${reason} (gave up after ${formatMs(timeoutMs)}; see --timeout)` }));
    }, timeoutMs);
    offs.push(
      target.on('error', (e: { closeCode?: unknown }) => {
        // Only the relay's own refusals (4xxx) explain anything; a failed TCP connect (1006) is probed instead.
        if (typeof e?.closeCode !== 'number' || e.closeCode <= 4000) return;
        // A bad request stays bad however often it is retried: say so now.
        if (e.closeCode === CloseCode.BadFrame) settle({ ok: false, fatal: true, reason: describeRefusal(e) });
        else lastRefusal = e;
      }),
      target.on('welcome', () => settle({ ok: true })),
      target.on('open', () => settle({ ok: true })),
      target.on('state', (s: { current?: string }) => {
        if (s?.current === 'live') settle({ ok: true });
      }),
      onFatal(target, (reason) => settle({ ok: false, fatal: true, reason })),
    );
  });
}

/**
 * Why `url` is not answering: the TCP error (`cannot reach relay at ws://h:p: ECONNREFUSED`), or,
 * when something accepts connections there, that it did not complete a Sluice handshake.
 */
export async function unreachableReason(url: string, timeoutMs = 2000): Promise<string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a relay URL: ${url}`;
  }
  const base = `${u.protocol}//${u.host}`;
  const port = Number(u.port || (u.protocol === 'wss:' || u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const error = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
  });
  if (error) return `cannot reach relay at ${base}: ${error}`;
  return `no answer from a Sluice relay at ${base} (the port accepts connections, but no WebSocket welcome came)`;
}

/** A close event's code and reason, whether an SDK passes them as `(code, reason)` or as `({code, reason})`. */
export function closeInfo(args: unknown[]): { code: number; reason: string } {
  const [a, b] = args;
  if (typeof a === 'number') return { code: a, reason: typeof b === 'string' ? b : '' };
  const o = a as { code?: unknown; reason?: unknown } | undefined;
  return { code: typeof o?.code === 'number' ? o.code : 0, reason: typeof o?.reason === 'string' ? o.reason : '' };
}

/** Throws a one-line error when `name` is not a valid channel name (checked before connecting). */
export function checkChannelName(name: string): void {
  if (!isValidChannelName(name)) {
    throw new Error(`invalid channel name ${JSON.stringify(name)}: use 1–128 characters from A–Z a–z 0–9 _ - . : @`);
  }
}

/** `--timeout` as milliseconds (a positive integer). */
export function parseTimeout(value: string | undefined, fallback = DEFAULT_TIMEOUT_MS): number {
  if (value === undefined) return fallback;
  const ms = Number(value);
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new Error(`--timeout takes a positive number of milliseconds, got "${value}"`);
  return ms;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
