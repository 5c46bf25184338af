/**
 * Attack: under --auth jwt a token's `exp` closes /stream and /source connections with 4401,
 * but a /ws (go-ws) connection keeps every subscription it made with that token forever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startTestRelay, TestPeer, sleep } from '../support/relay-harness.js';

const SECRET = 'attack-secret-attack-secret-attack-secret';
async function token(claims: Record<string, unknown>, expSeconds: number): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds).sign(new TextEncoder().encode(SECRET));
}

test('/ws subscriptions end when the token that authorized them expires', async () => {
  const relay = await startTestRelay({ auth: 'jwt', jwtSecret: SECRET });
  try {
    const long = await token({ publish: ['*'], subscribe: ['*'] }, 3600);
    const short = await token({ subscribe: ['*'] }, 2);
    const src = await TestPeer.connect(`${relay.url}/source/exp?token=${long}`);
    src.send({ kind: 'signal-sync', state: { n: 0 } });
    // Control: a /stream receiver with the short token is closed with 4401.
    const rcv = await TestPeer.connect(`${relay.url}/stream/exp?token=${short}`);
    const ws = new WebSocket(`${relay.url}/ws?token=${short}`);
    const texts: string[] = [];
    let wsClose: number | undefined;
    ws.on('message', (d) => texts.push(d.toString()));
    ws.on('close', (c) => (wsClose = c));
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', data: 'exp' }));
    await sleep(300);
    assert.ok(texts.some((t) => t.includes('"event"')), 'subscribed');
    // Past exp (whole seconds, so up to 2 s + sweep).
    for (let i = 1; i <= 40; i++) {
      src.send({ kind: 'signal-diff', diff: { n: i } });
      await sleep(100);
    }
    assert.equal(rcv.closeCode, 4401, 'control: /stream receiver closed with 4401');
    const before = texts.length;
    src.send({ kind: 'signal-diff', diff: { n: 999 } });
    await sleep(300);
    const gotAfterExpiry = texts.slice(before).some((t) => t.includes('999'));
    assert.ok(wsClose !== undefined || !gotAfterExpiry, `/ws connection still open (close=${wsClose}) and still receives channel data > 2 s after its token expired`);
    ws.close();
    src.ws.close();
  } finally {
    await relay.close(2000);
  }
});
