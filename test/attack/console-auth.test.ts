// Attacks on the console's admin auth under --auth jwt: every route and the feed, with no token,
// expired, unsigned (alg none), wrongly signed, admin as a string, and claims that look like an
// authorization decision; and a feed that outlives its token.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';

const SECRET = 'console-attack-secret-0123456789abcdef';
const key = new TextEncoder().encode(SECRET);
const sign = (claims: Record<string, unknown>, exp: string | number = '5m') => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);

const base = (relay: TestRelay) => relay.url.replace('ws:', 'http:');
async function status(relay: TestRelay, path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(base(relay) + path, { headers });
  await res.arrayBuffer();
  return res.status;
}

const ROUTES = ['/console', '/api/channels', '/api/channels/cam', '/api/channels/cam/picture', '/api/relay', '/api/feed', '/api/stats', '/metrics'];

async function relayWithPicture(t: { after(fn: () => unknown): void }): Promise<TestRelay> {
  const relay = await startTestRelay({ auth: 'jwt', jwtSecret: SECRET });
  t.after(() => relay.close());
  const src = await TestPeer.connect(`${relay.url}/source/cam?token=${await sign({ publish: ['cam'] })}`);
  t.after(() => src.close());
  await src.next('welcome');
  src.send({ kind: 'pixels', width: 2, height: 2, data: new Uint8Array(16).fill(9) });
  await src.until(() => relay.channels.get('cam')?.cache.hasPicture === true, 5000, 'the picture');
  return relay;
}

describe('attack: console admin auth', () => {
  it('refuses every console route and the feed without a valid admin token', async (t) => {
    const relay = await relayWithPicture(t);
    const expired = await sign({ admin: true }, Math.floor(Date.now() / 1000) - 60);
    const unsigned = new UnsecuredJWT({ admin: true }).setExpirationTime('5m').encode();
    const wrongKey = await new SignJWT({ admin: true }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('another-secret-0123456789abcdef-xx'));
    const adminString = await sign({ admin: 'true' });
    const adminOne = await sign({ admin: 1 });
    const adminArray = await sign({ admin: [true] });
    const user = await sign({ subscribe: ['*'], publish: ['*'] });
    const admin = await sign({ admin: true });
    for (const path of ROUTES) {
      const sep = path.includes('?') ? '&' : '?';
      assert.equal(await status(relay, path), 401, `${path} without a token`);
      for (const [what, tok, want] of [
        ['expired', expired, 401],
        ['alg none', unsigned, 401],
        ['wrong key', wrongKey, 401],
        ['admin "true"', adminString, 403],
        ['admin 1', adminOne, 403],
        ['admin [true]', adminArray, 403],
        ['no admin claim', user, 403],
      ] as const) {
        assert.equal(await status(relay, `${path}${sep}token=${tok}`), want, `${path} ${what} (query)`);
        assert.equal(await status(relay, path, { authorization: `Bearer ${tok}` }), want, `${path} ${what} (header)`);
      }
      // A non-admin token in the query is not rescued by an admin one in the header.
      assert.equal(await status(relay, `${path}${sep}token=${user}`, { authorization: `Bearer ${admin}` }), 403, `${path} query wins`);
      // Bearer scheme variants and an empty ?token= fall back to the header.
      assert.notEqual(await status(relay, `${path}${sep}token=`, { authorization: `bEaReR   ${admin}` }), 401, `${path} empty query token, header admin`);
      assert.equal(await status(relay, path, { authorization: `Basic ${admin}` }), 401, `${path} Basic scheme`);
    }
    // The WebSocket feed: same verdicts, as close codes.
    for (const [tok, want] of [
      [undefined, 4401],
      [expired, 4401],
      [unsigned, 4401],
      [wrongKey, 4401],
      [adminString, 4403],
      [user, 4403],
    ] as const) {
      const f = await TestPeer.connect(`${relay.url}/api/feed${tok ? `?token=${tok}` : ''}`);
      assert.equal(await f.waitClose(), want, `feed with ${tok ? tok.slice(0, 12) : 'no token'}`);
    }
    const viaHeader = await TestPeer.connect(`${relay.url}/api/feed`, { headers: { authorization: `Bearer ${admin}` } });
    t.after(() => viaHeader.close());
    relay.console.tick();
    await viaHeader.until(() => viaHeader.texts.length > 0, 5000, 'a tick with a header token');
    assert.equal(relay.totals.internalErrors, 0);
  });

  // FINDING (medium): channel peers are closed with 4401 when their token expires; a console feed
  // opened with an admin token keeps receiving every channel's state forever after it expired.
  it('a feed opened with an admin token is closed (4401) when the token expires', { timeout: 20_000 }, async (t) => {
    const relay = await startTestRelay({ auth: 'jwt', jwtSecret: SECRET });
    t.after(() => relay.close());
    const exp = Math.floor(Date.now() / 1000) + 2;
    const shortLived = await sign({ admin: true }, exp);
    const f = await TestPeer.connect(`${relay.url}/api/feed?token=${shortLived}`);
    t.after(() => f.ws.terminate());
    relay.console.tick();
    await f.until(() => f.texts.length > 0, 5000, 'a tick');
    // Past the expiry (exp has one-second resolution), plus the relay's quarter-second sweep.
    await f.until(() => f.closeCode !== undefined, 6000, 'the close at expiry').catch(() => {});
    const afterExpiry = f.texts.length;
    relay.console.tick();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(f.closeCode, 4401, `the feed is still open ${(Date.now() / 1000 - exp).toFixed(1)} s after its token expired, and got ${f.texts.length - afterExpiry} more tick(s)`);
  });

  // FINDING (medium-low): createJwtAuth tells a verified payload from a refusal by shape
  // (`typeof ok === 'boolean' && 'code' in v`), so a token whose claims happen to include
  // `"ok": true, "code": …` is taken as an "allowed" decision: admin access without the admin
  // claim, and any channel without publish/subscribe claims.
  it('a token whose claims include ok/code is not mistaken for an authorization decision', async (t) => {
    const relay = await startTestRelay({ auth: 'jwt', jwtSecret: SECRET });
    t.after(() => relay.close());
    const sneaky = await sign({ ok: true, code: 0, sub: 'user-7' });
    const problems: string[] = [];
    const got = await status(relay, `/api/channels?token=${sneaky}`);
    if (got !== 403) problems.push(`the admin API answered ${got} to a token with ok/code claims and no admin claim`);
    const src = await TestPeer.connect(`${relay.url}/source/billing?token=${sneaky}`);
    t.after(() => src.close());
    const first = await Promise.race([src.next('welcome').then(() => 'welcome'), src.closed.then((c) => `closed ${c}`)]);
    if (first !== 'closed 4403') problems.push(`publishing with no publish claim got ${first}`);
    assert.deepEqual(problems, []);
  });
});
