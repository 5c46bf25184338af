/** Maps a WebSocket request URL to a role and channel (`/source/{ch}`, `/stream/{ch}`, …). */
import { DEFAULT_CHANNEL, isValidChannelName } from '../protocol/channel-name.js';
import { parseSelect } from '../protocol/select.js';
import type { Role } from '../protocol/control.js';

export interface Route {
  role: Role;
  channel: string;
  select: string[] | null;
  token: string | undefined;
  /** Log receivers: the next offset wanted (`?resume=N`). */
  resume: number | undefined;
  /** The receiver accepts Batch messages (`?batch=1`). */
  batch: boolean;
  /** Sources: the log producer id (`?producer=`), stable across the producer's reconnects. */
  producer: string | undefined;
}

export type RouteResult = { ok: true; route: Route } | { ok: false; status: 'not-found' | 'bad-request'; message: string };

const ROLE_BY_SEGMENT: Record<string, Role> = { source: 'source', peer: 'source', stream: 'receiver', signal: 'signal' };

/** Parses `url` (path + query). Never throws. */
export function parseRoute(url: string): RouteResult {
  let u: URL;
  try {
    u = new URL(url, 'http://relay.invalid');
  } catch {
    return { ok: false, status: 'bad-request', message: 'unparseable URL' };
  }
  const parts = u.pathname.split('/').filter((p) => p !== '');
  const role = parts[0] === undefined ? undefined : ROLE_BY_SEGMENT[parts[0]];
  if (role === undefined || parts.length > 2) return { ok: false, status: 'not-found', message: `no WebSocket endpoint at ${u.pathname}` };
  let channel = DEFAULT_CHANNEL;
  if (parts[1] !== undefined) {
    try {
      channel = decodeURIComponent(parts[1]);
    } catch {
      return { ok: false, status: 'bad-request', message: 'channel name is not valid percent-encoding' };
    }
  }
  if (!isValidChannelName(channel)) return { ok: false, status: 'bad-request', message: `invalid channel name "${[...channel].slice(0, 32).join('')}"` };
  let select: string[] | null = null;
  try {
    select = parseSelect(u.searchParams.get('select'));
  } catch (e) {
    return { ok: false, status: 'bad-request', message: (e as Error).message };
  }
  let resume: number | undefined;
  const r = u.searchParams.get('resume');
  if (r !== null) {
    resume = Number(r);
    if (!Number.isSafeInteger(resume) || resume < 0) return { ok: false, status: 'bad-request', message: 'resume must be a non-negative integer' };
  }
  const batch = u.searchParams.get('batch') === '1';
  const producer = u.searchParams.get('producer') ?? undefined;
  if (producer !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(producer)) return { ok: false, status: 'bad-request', message: 'producer must be 1-64 characters of A-Z a-z 0-9 _ -' };
  return { ok: true, route: { role, channel, select, token: u.searchParams.get('token') ?? undefined, resume, batch, producer } };
}
