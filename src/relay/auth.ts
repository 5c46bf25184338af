/**
 * Connection authorization. Every connection is decided by one `authorize` hook; the built-in
 * JWT hook verifies a token (from `?token=` or `Authorization: Bearer`) whose claims list channel
 * patterns:
 *
 *   { "publish": ["counter", "process:*"], "subscribe": ["*"] }
 *
 * `*` matches any run of characters. Publishing covers the source role; subscribing covers the
 * receiver and signal roles. A missing or invalid token is 4401; a valid one that does not cover
 * the channel is 4403. Neither is retried by clients.
 */
import { createLocalJWKSet, createRemoteJWKSet, importSPKI, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { IncomingHttpHeaders } from 'node:http';
import { CloseCode } from '../protocol/close-codes.js';
import type { Role } from '../protocol/control.js';

export interface AuthRequest {
  channel: string;
  role: Role;
  token: string | undefined;
  headers: IncomingHttpHeaders;
  remoteAddress: string;
}

/** `expiresAt` (ms since epoch): the relay closes the connection with 4401 when it passes. */
export type AuthDecision = { ok: true; subject?: string | undefined; expiresAt?: number | undefined } | { ok: false; code: number; reason: string };

export type Authorize = (req: AuthRequest) => AuthDecision | Promise<AuthDecision>;

/**
 * Decides who may read the operations endpoints (`/api/stats`, `/metrics`). Under `--auth jwt`
 * that is a token whose `admin` claim is `true`.
 */
export type AuthorizeAdmin = (token: string | undefined) => AuthDecision | Promise<AuthDecision>;

/** Lets everything through (`--auth none`, the default for local use). */
export const allowAll: Authorize = () => ({ ok: true });

/** Compiles `*` glob patterns to one matcher. */
export function channelMatcher(patterns: readonly string[]): (channel: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  return (channel) => res.some((r) => r.test(channel));
}

/** Extracts a bearer token from `?token=` (already parsed) or the Authorization header. */
export function tokenFrom(queryToken: string | undefined, headers: IncomingHttpHeaders): string | undefined {
  if (queryToken) return queryToken;
  const h = headers.authorization;
  if (typeof h === 'string' && /^bearer\s+/i.test(h)) return h.replace(/^bearer\s+/i, '').trim();
  return undefined;
}

function listClaim(payload: JWTPayload, name: string): string[] {
  const v = payload[name];
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export interface JwtOptions {
  secret?: string | undefined;
  publicKeyPem?: string | undefined;
  jwks?: { keys: object[] } | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/** The built-in JWT hooks: channel access from `publish`/`subscribe` claims, ops access from `admin: true`. */
export async function createJwtAuth(options: JwtOptions): Promise<{ authorize: Authorize; admin: AuthorizeAdmin }> {
  const claims = { ...(options.issuer ? { issuer: options.issuer } : {}), ...(options.audience ? { audience: options.audience } : {}) };
  let verify: (token: string) => Promise<JWTPayload>;
  if (options.secret) {
    const secret = new TextEncoder().encode(options.secret);
    verify = async (t) => (await jwtVerify(t, secret, claims)).payload;
  } else if (options.publicKeyPem) {
    const key = await importSPKIAny(options.publicKeyPem);
    verify = async (t) => (await jwtVerify(t, key, claims)).payload;
  } else if (options.jwks || options.jwksUrl) {
    const set = options.jwks ? createLocalJWKSet(options.jwks as Parameters<typeof createLocalJWKSet>[0]) : createRemoteJWKSet(new URL(options.jwksUrl!));
    verify = async (t) => (await jwtVerify(t, set, claims)).payload;
  } else throw new Error('JWT authorization needs a secret, a public key or a JWKS');

  // The verified claims and a refusal are told apart by a wrapper this code builds, never by the
  // payload's shape: a signed token may carry any claims, `ok` and `code` included.
  type Checked = { verified: true; payload: JWTPayload } | { verified: false; refusal: AuthDecision & { ok: false } };
  const check = async (token: string | undefined): Promise<Checked> => {
    if (!token) return { verified: false, refusal: { ok: false, code: CloseCode.Unauthenticated, reason: 'a token is required' } };
    try {
      return { verified: true, payload: await verify(token) };
    } catch (e) {
      return { verified: false, refusal: { ok: false, code: CloseCode.Unauthenticated, reason: `invalid token: ${(e as Error).message}` } };
    }
  };
  const expiry = (p: JWTPayload) => (typeof p.exp === 'number' ? p.exp * 1000 : undefined);
  const subject = (p: JWTPayload) => (typeof p.sub === 'string' ? p.sub : undefined);
  const authorize: Authorize = async (req) => {
    const checked = await check(req.token);
    if (!checked.verified) return checked.refusal;
    const payload = checked.payload;
    const patterns = req.role === 'source' ? listClaim(payload, 'publish') : listClaim(payload, 'subscribe');
    if (!channelMatcher(patterns)(req.channel)) {
      return { ok: false, code: CloseCode.NotAllowed, reason: `token does not allow ${req.role === 'source' ? 'publishing to' : 'subscribing to'} "${req.channel}"` };
    }
    return { ok: true, subject: subject(payload), expiresAt: expiry(payload) };
  };
  const admin: AuthorizeAdmin = async (token) => {
    const checked = await check(token);
    if (!checked.verified) return checked.refusal;
    const payload = checked.payload;
    if (payload.admin !== true) return { ok: false, code: CloseCode.NotAllowed, reason: 'token has no admin claim' };
    return { ok: true, subject: subject(payload), expiresAt: expiry(payload) };
  };
  return { authorize, admin };
}

/** The built-in JWT channel hook alone (see {@link createJwtAuth}). */
export async function createJwtAuthorize(options: JwtOptions): Promise<Authorize> {
  return (await createJwtAuth(options)).authorize;
}

// The PEM does not say its algorithm; try the common asymmetric ones.
async function importSPKIAny(pem: string) {
  let last: unknown;
  for (const alg of ['RS256', 'ES256', 'EdDSA', 'PS256', 'ES384', 'ES512']) {
    try {
      return await importSPKI(pem, alg);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`cannot import JWT public key: ${(last as Error).message}`);
}

/** Browser origin check: empty list = any origin; requests without Origin (non-browsers) pass. */
export function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  if (allowed.length === 0 || origin === undefined) return true;
  return allowed.includes(origin) || allowed.includes('*');
}
