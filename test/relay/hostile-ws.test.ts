// WebSocket-layer garbage (RFC 6455 violations, truncated and lying frames, half-closes, resets)
// on connections the relay ACCEPTS and on connections it is REFUSING, while a good channel runs
// beside them. The relay must stay alive (the guard fails the test on any exit, error log or
// uncaught exception), keep the good channel flowing, and close only with documented codes.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { TestPeer, sleep, spawnGuardedRelay } from '../support/relay-harness.js';
import type { SpawnedRelay } from '../support/relay-harness.js';
import { rng } from '../support/rng.js';
import { DOCUMENTED_CLOSE_CODES, GARBAGE, RawWs } from '../support/ws-garbage.js';
import type { Ending } from '../support/ws-garbage.js';

const JWT_SECRET = 'x';
const EURO_NAME = '€'.repeat(64);
const ENDINGS: Ending[] = ['wait', 'half-close', 'destroy'];

interface Target {
  name: string;
  args?: string[];
  /** Request path for the i-th hostile connection. */
  path: (i: number) => string;
  origin?: string;
  /** The refusal code every hostile connection must get first (refused targets). */
  expect?: number;
  /** Occupies something before the garbage starts (e.g. the source slot for 4409). */
  setup?: (relay: SpawnedRelay, auth: Record<string, string>) => Promise<TestPeer>;
}

const TARGETS: Target[] = [
  { name: 'accepted source', path: (i) => `/source/fz-${i}` },
  { name: 'accepted receiver', path: () => '/stream/fz' },
  { name: 'accepted signal peer', path: () => '/signal/fz' },
  { name: 'accepted go-ws endpoint (/ws)', path: () => '/ws' },
  { name: 'refused 4401 (no token, --auth jwt)', args: ['--auth', 'jwt', '--jwt-secret', JWT_SECRET], path: () => '/stream/fz', expect: 4401 },
  { name: 'refused 4403 (wrong Origin)', args: ['--allowed-origins', 'http://ok'], origin: 'http://evil.example', path: () => '/stream/fz', expect: 4403 },
  { name: 'refused 4404 (unknown path)', path: (i) => `/nowhere/${i}`, expect: 4404 },
  { name: 'refused 4400 (bad channel name bad%20name)', path: () => '/stream/bad%20name', expect: 4400 },
  { name: 'refused 4400 (channel name of 64 × €)', path: () => `/stream/${encodeURIComponent(EURO_NAME)}`, expect: 4400 },
  {
    name: 'refused 4409 (second source)',
    path: () => '/source/taken',
    expect: 4409,
    setup: async (relay, headers) => {
      const holder = await TestPeer.connect(`${relay.url}/source/taken`, { headers });
      await holder.next('welcome');
      return holder;
    },
  },
];

/** A good channel (source + watcher) that must keep flowing while the garbage runs. */
async function goodChannel(relay: SpawnedRelay, headers: Record<string, string>) {
  const src = await TestPeer.connect(`${relay.url}/source/good`, { headers });
  src.send({ kind: 'signal-sync', state: { n: 0 } });
  const watcher = await TestPeer.connect(`${relay.url}/stream/good`, { headers });
  await watcher.until(() => watcher.state.n === 0, 5000, 'the good channel');
  let n = 0;
  return {
    src,
    watcher,
    /** Publishes the next value and waits for the watcher to see it. */
    async step(what: string) {
      n++;
      src.send({ kind: 'signal-diff', diff: { n } });
      await watcher.until(() => watcher.state.n === n, 5000, `the good channel to flow (${what})`);
    },
  };
}

const authHeaders = async (target: Target): Promise<Record<string, string>> => {
  const h: Record<string, string> = {};
  if (target.args?.includes('jwt')) {
    const token = await new SignJWT({ publish: ['*'], subscribe: ['*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    h.authorization = `Bearer ${token}`;
  }
  if (target.origin !== undefined) h.origin = 'http://ok';
  return h;
};

describe('hostile WebSocket frames', () => {
  for (const target of TARGETS) {
    it(`${target.name}: every kind of WebSocket garbage, then wait / half-close / reset`, { timeout: 60_000 }, async (t) => {
      const relay = await spawnGuardedRelay(t, target.args ?? []);
      const headers = await authHeaders(target);
      const good = await goodChannel(relay, headers);
      const holder = await target.setup?.(relay, headers);
      const rand = rng(7);
      const codes = new Map<string, number>();
      const wrong: string[] = [];
      // Every garbage kind, each with every ending, all at once.
      const runs = GARBAGE.flatMap((g, gi) =>
        ENDINGS.map(async (ending, ei) => {
          const i = gi * ENDINGS.length + ei;
          let ws: RawWs;
          try {
            ws = await RawWs.connect(relay.url, { path: target.path(i), origin: target.origin });
          } catch (e) {
            wrong.push(`${g.name}: handshake failed: ${(e as Error).message}`);
            return;
          }
          // Refused connections: send the garbage only once the refusal is on its way (the close
          // handshake is then in progress), which is where a socket layer is easiest to trip.
          if (target.expect !== undefined) await Promise.race([sleep(20), ws.done]);
          ws.write(g.bytes(rand));
          await ws.finish(ending, 3000);
          const code = ws.closeCode ?? (ws.ended ? 'no close frame' : 'open');
          codes.set(String(code), (codes.get(String(code)) ?? 0) + 1);
          if (typeof code === 'number' && !DOCUMENTED_CLOSE_CODES.has(code)) wrong.push(`${g.name} (${ending}): undocumented close code ${code}`);
          // A client that destroys its socket right away may do so before the refusal reaches it.
          const cutShort = ending === 'destroy' && code === 'no close frame';
          if (target.expect !== undefined && code !== target.expect && !cutShort) wrong.push(`${g.name} (${ending}): expected ${target.expect}, got ${code}`);
        }),
      );
      await Promise.all(runs);
      await sleep(100);
      t.diagnostic(`${runs.length} hostile connections; close codes ${JSON.stringify(Object.fromEntries(codes))}`);
      assert.equal(relay.exit, undefined, `the relay exited during the garbage:\n${relay.stderr().slice(-3000)}`);
      assert.equal((await fetch(`${relay.http}/healthz`)).status, 200);
      await good.step('after the garbage');
      assert.equal(good.src.closeCode, undefined, 'the good source was not disturbed');
      if (holder) assert.equal(holder.closeCode, undefined, 'the channel holder was not disturbed');
      assert.deepEqual(wrong, []);
      good.src.close();
      good.watcher.close();
      holder?.close();
    });
  }

  it('a stock ws client sending invalid UTF-8 text (c3 28) on a refused /stream/bad%20name', { timeout: 20_000 }, async (t) => {
    const relay = await spawnGuardedRelay(t);
    const good = await goodChannel(relay, {});
    for (let i = 0; i < 5; i++) {
      const ws = new WebSocket(`${relay.url}/stream/bad%20name`);
      ws.on('error', () => {});
      const opened = await new Promise<boolean>((r) => {
        ws.once('open', () => r(true));
        ws.once('close', () => r(false));
      });
      assert.ok(opened, `connection ${i} was not even opened: the relay is gone?\n${relay.stderr().slice(-3000)}`);
      // ws sends a Buffer given with binary: false as a text frame, unchecked.
      ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
      const code = await new Promise<number>((r) => ws.once('close', r));
      assert.ok(DOCUMENTED_CLOSE_CODES.has(code), `close code ${code}`);
    }
    await sleep(100);
    assert.equal(relay.exit, undefined, `the relay exited:\n${relay.stderr().slice(-3000)}`);
    await good.step('after the invalid UTF-8');
  });

  it(`a stock ws client opening a channel named 64 × "€" is refused with 4400`, { timeout: 20_000 }, async (t) => {
    const relay = await spawnGuardedRelay(t);
    const p = await TestPeer.connect(`${relay.url}/stream/${encodeURIComponent(EURO_NAME)}`);
    assert.equal(await p.waitClose(), 4400);
    assert.ok(Buffer.byteLength(p.closeReason) <= 123);
    await sleep(100);
    assert.equal(relay.exit, undefined, `the relay exited:\n${relay.stderr().slice(-3000)}`);
  });

  it('hostile upgrade requests (bad keys, versions, paths, huge headers, slow and cut requests)', { timeout: 30_000 }, async (t) => {
    const relay = await spawnGuardedRelay(t, ['--allowed-origins', 'http://ok']);
    const good = await goodChannel(relay, { origin: 'http://ok' });
    const port = Number(new URL(relay.url).port);
    const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const requests = [
      `GET /stream/x HTTP/1.1\r\nHost: x\r\n${ws}\r\n`, // no key
      `GET /stream/x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\n${key}\r\n`,
      `GET /stream/x HTTP/1.1\r\nHost: x\r\n${ws}Sec-WebSocket-Key: short\r\n\r\n`,
      `GET /stream/%E0%A4%A HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\n\r\n`,
      `GET /stream/%00 HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\n\r\n`,
      `GET http://evil/stream/x HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\n\r\n`,
      `GET //// HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\n\r\n`,
      `GET /stream/x?select=${'a.'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\n\r\n`,
      `GET /stream/x?resume=-1&resume=1e400 HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\n\r\n`,
      `GET /stream/x HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: ${'\u00ff'.repeat(300)}\r\n\r\n`,
      `GET /stream/x HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      `GET /stream/x HTTP/1.1\r\nHost: x\r\n${ws}${key}Origin: http://ok\r\nAuthorization: Bearer ${'.'.repeat(5000)}\r\n\r\n`,
      `GET /stream/x HTTP/1.1\r\nHost: x\r\n${ws}${key}`, // cut off before the blank line
      `POST /stream/x HTTP/1.1\r\nHost: x\r\n${ws}${key}Content-Length: 5\r\n\r\nhello`,
      `\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03`, // a TLS ClientHello
      `GET /api/stats?gc=1 HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`,
    ];
    await Promise.all(
      requests.map(
        (text) =>
          new Promise<void>((resolve) => {
            const s = connect({ port, host: '127.0.0.1' });
            s.on('error', () => {});
            s.on('data', () => {});
            s.write(text, 'latin1');
            const timer = setTimeout(() => s.destroy(), 2000);
            s.on('close', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    assert.equal(relay.exit, undefined, `the relay exited:\n${relay.stderr().slice(-3000)}`);
    assert.equal((await fetch(`${relay.http}/healthz`)).status, 200);
    await good.step('after the hostile handshakes');
  });
});
