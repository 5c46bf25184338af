import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { channelMatcher } from '../../src/relay/auth.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const sign = (claims: Record<string, unknown>, secret = SECRET, exp = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret));

describe('authorization', () => {
  it('matches channel patterns with *', () => {
    const m = channelMatcher(['counter', 'process:*']);
    assert.ok(m('counter'));
    assert.ok(m('process:build-1'));
    assert.ok(!m('counter2'));
    assert.ok(!m('proc'));
    assert.ok(channelMatcher(['*'])('anything'));
  });

  it('verifies JWTs: 4401 without or with a bad token, 4403 outside its channels, open inside', async (t) => {
    const relay = await startTestRelay({ auth: 'jwt', jwtSecret: SECRET });
    t.after(() => relay.close());
    const token = await sign({ publish: ['counter'], subscribe: ['counter', 'process:*'] });
    const expect = async (path: string, code: number | 'open', headers?: Record<string, string>) => {
      const p = await TestPeer.connect(relay.url + path, headers ? { headers } : undefined);
      if (code === 'open') {
        await p.next('welcome');
        p.close();
      } else assert.equal(await p.waitClose(), code, path);
    };
    await expect('/stream/counter', CloseCode.Unauthenticated);
    await expect(`/stream/counter?token=${await sign({ subscribe: ['*'] }, 'wrong-secret-wrong-secret-wrong-secret')}`, CloseCode.Unauthenticated);
    await expect(`/stream/counter?token=${await sign({ subscribe: ['*'] }, SECRET, '-1m')}`, CloseCode.Unauthenticated);
    await expect('/stream/counter?token=not.a.jwt', CloseCode.Unauthenticated);
    await expect(`/stream/counter?token=${token}`, 'open');
    await expect(`/stream/process:build-7?token=${token}`, 'open');
    await expect(`/source/counter?token=${token}`, 'open');
    await expect(`/source/process:build-7?token=${token}`, CloseCode.NotAllowed);
    await expect(`/stream/other?token=${token}`, CloseCode.NotAllowed);
    await expect('/stream/counter', 'open', { authorization: `Bearer ${token}` });
    assert.ok((relay.totals.closesByReason.Unauthenticated ?? 0) >= 4);
    assert.ok((relay.totals.closesByReason.NotAllowed ?? 0) >= 2);
  });

  it('accepts asymmetric keys (ES256 public key)', async (t) => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const relay = await startTestRelay({ auth: 'jwt', jwtPublicKey: await exportSPKI(publicKey) });
    t.after(() => relay.close());
    const token = await new SignJWT({ subscribe: ['x'] }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey);
    const ok = await TestPeer.connect(`${relay.url}/stream/x?token=${token}`);
    await ok.next('welcome');
    const bad = await TestPeer.connect(`${relay.url}/stream/x?token=${await sign({ subscribe: ['x'] })}`);
    assert.equal(await bad.waitClose(), CloseCode.Unauthenticated);
  });

  it('runs a custom authorize hook with channel, role, token, headers and address', async (t) => {
    const seen: unknown[] = [];
    const relay = await startTestRelay({
      authorize: (req) => {
        seen.push({ channel: req.channel, role: req.role, token: req.token, ua: req.headers['x-app'], addr: req.remoteAddress });
        return req.token === 'let-me-in' ? { ok: true } : { ok: false, code: CloseCode.NotAllowed, reason: 'nope' };
      },
    });
    t.after(() => relay.close());
    const ok = await TestPeer.connect(`${relay.url}/source/hook?token=let-me-in`, { headers: { 'x-app': 'demo' } });
    await ok.next('welcome');
    const no = await TestPeer.connect(`${relay.url}/stream/hook?token=other`);
    assert.equal(await no.waitClose(), CloseCode.NotAllowed);
    assert.deepEqual(seen[0], { channel: 'hook', role: 'source', token: 'let-me-in', ua: 'demo', addr: '127.0.0.1' });
  });

  it('refuses browsers from origins not on the allowed list with 4403', async (t) => {
    const relay = await startTestRelay({ allowedOrigins: ['https://app.example'] });
    t.after(() => relay.close());
    const good = await TestPeer.connect(`${relay.url}/stream/o`, { headers: { origin: 'https://app.example' } });
    await good.next('welcome');
    const bad = await TestPeer.connect(`${relay.url}/stream/o`, { headers: { origin: 'https://evil.example' } });
    assert.equal(await bad.waitClose(), CloseCode.NotAllowed);
  });
});
