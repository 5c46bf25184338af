// Hostile input over live sockets, from every role, while real channels run beside it: valid
// frames of every type (mutated or not), WebSocket-layer garbage on accepted and on refused
// connections, oversize and deeply nested JSON, `__proto__` keys. The relay must not crash or log
// an internal error (the guard), must keep a good channel flowing, must close only with documented
// codes, and must never forward a malformed frame: a strict watcher on every fuzzed channel
// decodes everything it receives. Bounded to well under a minute; `npm run fuzz` is the long one.
// SLUICE_FUZZ_SEED=<n> replays a run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { encodeMessage } from '../../src/protocol/message.js';
import type { JsonObject } from '../../src/protocol/utf8.js';
import { message } from '../support/arbitraries.js';
import { rng } from '../support/rng.js';
import { TestPeer, sleep, spawnGuardedRelay } from '../support/relay-harness.js';
import type { SpawnedRelay } from '../support/relay-harness.js';
import { DOCUMENTED_CLOSE_CODES, GARBAGE, PROTO_STATE, RawWs, StrictWatcher, deepJson, mutate, sluiceFrame } from '../support/ws-garbage.js';
import type { Ending } from '../support/ws-garbage.js';

const JWT_SECRET = 'x';
const ORIGIN = 'http://ok';
/** One relay configuration in which every refusal can happen: 4401, 4403, 4404, 4400, 4409. */
const RELAY_ARGS = ['--auth', 'jwt', '--jwt-secret', JWT_SECRET, '--allowed-origins', ORIGIN, '--max-payload', String(4 * 1024 * 1024)];

const token = () =>
  new SignJWT({ publish: ['*'], subscribe: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));

async function setUp(t: { after(fn: () => unknown): void; diagnostic(s: string): void }) {
  // Registered first so that it runs first, whatever the relay guard's hook throws.
  const cleanup: Array<() => void> = [];
  t.after(() => {
    for (const f of cleanup) f();
  });
  const relay = await spawnGuardedRelay(t, RELAY_ARGS);
  const headers = { origin: ORIGIN, authorization: `Bearer ${await token()}` };
  const seed = Number(process.env.SLUICE_FUZZ_SEED ?? Date.now() % 1e9);
  t.diagnostic(`seed ${seed} (SLUICE_FUZZ_SEED=${seed} replays it)`);
  const src = await TestPeer.connect(`${relay.url}/source/good`, { headers });
  src.send({ kind: 'signal-sync', state: { n: 0 } });
  const good = new StrictWatcher(`${relay.url}/stream/good`, headers);
  cleanup.push(() => good.stop());
  await good.start();
  await good.until(() => good.state.n === 0, 5000, 'the good channel');
  const watchers = new Map<string, StrictWatcher>([['good', good]]);
  for (const ch of ['fz', 'fz2', 'deep', 'proto']) {
    for (const q of ['', '?batch=1']) {
      const w = new StrictWatcher(`${relay.url}/stream/${ch}${q}`, headers);
      cleanup.push(() => w.stop());
      await w.start();
      watchers.set(ch + q, w);
    }
  }
  cleanup.push(() => {
    for (const w of watchers.values()) w.stop();
    src.close();
  });
  return { relay, headers, seed, src, good, watchers };
}

function checkWatchers(watchers: Map<string, StrictWatcher>): void {
  const bad = [...watchers].flatMap(([ch, w]) => w.bad.map((b) => `${ch}: ${b}`));
  assert.deepEqual(bad.slice(0, 20), [], `bad frames forwarded: ${bad.length}`);
  const codes = [...watchers.values()].flatMap((w) => w.closeCodes).filter((c) => !DOCUMENTED_CLOSE_CODES.has(c));
  assert.deepEqual(codes, [], 'watchers closed with undocumented codes');
}

function assertAlive(relay: SpawnedRelay, when: string): void {
  if (relay.exit) assert.fail(`the relay exited ${when} (${JSON.stringify(relay.exit)}):\n${relay.stderr().slice(-3000)}`);
}

describe('live fuzz', () => {
  it('protocol frames of every type, mutated, from every role; deep, oversize and __proto__ JSON', { timeout: 120_000 }, async (t) => {
    const { relay, headers, seed, src, good, watchers } = await setUp(t);
    const rand = rng(seed);
    const corpus = fc.sample(message(), { numRuns: 400, seed }).map(encodeMessage);
    const roles = ['/source/fz', '/stream/fz', '/stream/good', '/signal/fz', '/peer/fz2', '/stream/fz2', '/source/fz2'];
    const codes = new Map<number, number>();
    let sent = 0;
    let rounds = 0;
    const deadline = Date.now() + Number(process.env.SLUICE_FUZZ_MS ?? 20_000);

    // Hostile JSON first: a SignalDiff over 1 MiB nested 100,000 deep, and __proto__ keys.
    const deep = await TestPeer.connect(`${relay.url}/source/deep`, { headers });
    deep.send({ kind: 'signal-sync', state: { a: 1 } });
    deep.sendRaw(sluiceFrame(FrameType.SignalDiff, deepJson(0, { key: 'abcdefghij', depth: 100_000 })));
    const deepCode = await deep.waitClose(20_000);
    t.diagnostic(`1.5 MB SignalDiff nested 100,000 deep: closed with ${deepCode}`);
    // Findings that do not stop the relay are collected, so one run reports all of them.
    const findings: string[] = [];
    if (deepCode !== 4400 && deepCode !== 1009) findings.push(`deep JSON closed with ${deepCode}, expected 4400 or 1009`);
    src.send({ kind: 'signal-diff', diff: { n: 1 } });
    await good.until(() => good.state.n === 1, 5000, 'the good channel after the deep JSON');

    const proto = await TestPeer.connect(`${relay.url}/source/proto`, { headers });
    proto.sendRaw(sluiceFrame(FrameType.SignalSync, Buffer.from(PROTO_STATE)));
    proto.send({ kind: 'signal-diff', diff: { ok: 2 } });
    const expected = JSON.parse(PROTO_STATE) as JsonObject;
    expected.ok = 2;
    const pw = watchers.get('proto')!;
    await pw.until(() => pw.state.ok === 2, 5000, 'the __proto__ channel');
    const late = await TestPeer.connect(`${relay.url}/stream/proto`, { headers });
    const sync = await late.next('signal-sync');
    // Key order is not part of the state; compare with keys sorted (own keys, "__proto__" included).
    const canonical = (v: unknown): string =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
        : JSON.stringify(v);
    const same = (a: unknown) => canonical(a) === canonical(expected);
    if (!same(sync.state)) findings.push(`__proto__ keys: a late joiner got ${JSON.stringify(sync.state)}`);
    if (!same(pw.state)) findings.push(`__proto__ keys: a live receiver holds ${JSON.stringify(pw.state)}`);
    late.close();
    proto.close();

    while (Date.now() < deadline || rounds < 5) {
      rounds++;
      const conns = await Promise.all(Array.from({ length: 6 }, (_, i) => TestPeer.connect(relay.url + roles[(rounds + i) % roles.length]!, { headers })));
      for (let k = 0; k < 120; k++) {
        const c = conns[(rand() * conns.length) | 0]!;
        if (c.closeCode !== undefined || c.ws.readyState !== c.ws.OPEN) continue;
        c.sendRaw(mutate(corpus[(rand() * corpus.length) | 0]!, rand));
        sent++;
      }
      await sleep(20);
      for (const c of conns) {
        if (c.closeCode !== undefined) codes.set(c.closeCode, (codes.get(c.closeCode) ?? 0) + 1);
        c.close();
      }
      assertAlive(relay, `in round ${rounds}`);
      src.send({ kind: 'signal-diff', diff: { n: rounds + 1 } });
    }
    t.diagnostic(`${rounds} rounds, ${sent} frames; close codes ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.equal((await fetch(`${relay.http}/healthz`)).status, 200);
    await good.until(() => good.state.n === rounds + 1, 5000, 'the good channel keeps flowing');
    // Fuzzers on /stream/good may have sent inputs; none may have changed the state.
    const fresh = await TestPeer.connect(`${relay.url}/stream/good`, { headers });
    const s = await fresh.next('signal-sync');
    assert.deepEqual(s.state, { n: rounds + 1 });
    fresh.close();
    assert.equal(src.closeCode, undefined);
    for (const [code] of codes) assert.ok(DOCUMENTED_CLOSE_CODES.has(code), `undocumented close code ${code}`);
    await sleep(200);
    checkWatchers(watchers);
    assertAlive(relay, 'at the end');
    assert.deepEqual(findings, []);
  });

  it('WebSocket garbage on accepted and refused connections (4401, 4403, 4404, 4400, 4409)', { timeout: 120_000 }, async (t) => {
    const { relay, headers, seed, src, good, watchers } = await setUp(t);
    const rand = rng(seed ^ 0x5eed);
    const holder = await TestPeer.connect(`${relay.url}/source/fz`, { headers });
    const auth = headers.authorization;
    const targets: Array<{ path: string; origin?: string; authorization?: string; expect?: number }> = [
      { path: '/source/fz2', origin: ORIGIN, authorization: auth },
      { path: '/stream/fz', origin: ORIGIN, authorization: auth },
      { path: '/signal/fz', origin: ORIGIN, authorization: auth },
      { path: '/stream/fz', origin: ORIGIN, expect: 4401 },
      { path: '/stream/fz', origin: 'http://evil.example', authorization: auth, expect: 4403 },
      { path: '/nowhere', origin: ORIGIN, authorization: auth, expect: 4404 },
      { path: '/stream/bad%20name', origin: ORIGIN, authorization: auth, expect: 4400 },
      { path: `/stream/${encodeURIComponent('€'.repeat(64))}`, origin: ORIGIN, authorization: auth, expect: 4400 },
      { path: '/source/fz', origin: ORIGIN, authorization: auth, expect: 4409 },
    ];
    const endings: Ending[] = ['wait', 'half-close', 'destroy'];
    const codes = new Map<string, number>();
    const wrong: string[] = [];
    let conns = 0;
    let n = 1;
    const deadline = Date.now() + Number(process.env.SLUICE_FUZZ_MS ?? 12_000);
    while (Date.now() < deadline) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const target = targets[(rand() * targets.length) | 0]!;
          const g = GARBAGE[(rand() * GARBAGE.length) | 0]!;
          const ending = endings[(rand() * endings.length) | 0]!;
          const bytes = g.bytes(rand);
          let ws: RawWs;
          try {
            ws = await RawWs.connect(relay.url, { path: target.path, origin: target.origin, authorization: target.authorization });
          } catch (e) {
            wrong.push(`${target.path}: ${(e as Error).message}`);
            return;
          }
          conns++;
          if (target.expect !== undefined) await Promise.race([sleep(10), ws.done]);
          ws.write(bytes);
          await ws.finish(ending, 2500);
          const code = ws.closeCode;
          codes.set(String(code ?? 'none'), (codes.get(String(code ?? 'none')) ?? 0) + 1);
          if (code !== undefined && !DOCUMENTED_CLOSE_CODES.has(code)) wrong.push(`${g.name} on ${target.path}: undocumented close code ${code}`);
          if (target.expect !== undefined && code !== target.expect) wrong.push(`${g.name} on ${target.path}: expected ${target.expect}, got ${code}`);
        }),
      );
      assertAlive(relay, `after ${conns} hostile connections`);
      src.send({ kind: 'signal-diff', diff: { n: ++n } });
    }
    t.diagnostic(`${conns} hostile connections; close codes ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.equal((await fetch(`${relay.http}/healthz`)).status, 200);
    await good.until(() => good.state.n === n, 5000, 'the good channel keeps flowing');
    assert.equal(holder.closeCode, undefined, 'the source holding fz was not disturbed');
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} wrong outcomes`);
    await sleep(200);
    checkWatchers(watchers);
    holder.close();
    assertAlive(relay, 'at the end');
  });
});
