// Malformed frames over live sockets, from every role, while a real channel runs beside them:
// the relay must not crash, must refuse with documented codes, and must not corrupt the channel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CLOSE_CODES } from '../../src/protocol/close-codes.js';
import { encodeMessage } from '../../src/protocol/message.js';
import { message } from '../support/arbitraries.js';
import { rng } from '../support/rng.js';
import { TestPeer, sleep, spawnRelay } from '../support/relay-harness.js';


describe('live fuzz', () => {
  it('hostile frames never crash the relay or corrupt a channel', { timeout: 120_000 }, async (t) => {
    const relay = await spawnRelay(['--max-payload', '65536']);
    t.after(() => relay.child.kill('SIGKILL'));
    const seed = Number(process.env.SLUICE_FUZZ_SEED ?? Date.now() % 1e9);
    t.diagnostic(`seed ${seed}`);
    const rand = rng(seed);

    // The channel that must stay intact.
    const src = await TestPeer.connect(`${relay.url}/source/good`);
    src.send({ kind: 'signal-sync', state: { n: 0 } });
    const watcher = await TestPeer.connect(`${relay.url}/stream/good`);
    await watcher.until(() => watcher.state.n === 0);

    const corpus = fc.sample(message(), { numRuns: 300, seed }).map(encodeMessage);
    const known = new Set([1000, 1005, 1006, ...CLOSE_CODES.map((c) => c.code)]);
    const roles = ['/source/fz', '/stream/fz', '/stream/good', '/signal/fz', '/peer/fz2'];
    let sent = 0;
    for (let round = 0; round < 40; round++) {
      const conns = await Promise.all(Array.from({ length: 5 }, (_, i) => TestPeer.connect(relay.url + roles[(round + i) % roles.length]!)));
      for (let k = 0; k < 100; k++) {
        const c = conns[(rand() * conns.length) | 0]!;
        if (c.closeCode !== undefined || c.ws.readyState !== c.ws.OPEN) continue;
        let buf = corpus[(rand() * corpus.length) | 0]!.slice();
        const op = rand();
        if (op < 0.3) buf[(rand() * buf.length) | 0] = (rand() * 256) | 0;
        else if (op < 0.45) buf = buf.slice(0, (rand() * buf.length) | 0);
        else if (op < 0.55) buf = Uint8Array.from({ length: (rand() * 40) | 0 }, () => (rand() * 256) | 0);
        else if (op < 0.6) {
          c.sendRaw('garbage text');
          sent++;
          continue;
        }
        c.sendRaw(buf);
        sent++;
      }
      await sleep(20);
      for (const c of conns) {
        if (c.closeCode !== undefined) assert.ok(known.has(c.closeCode), `undocumented close code ${c.closeCode}`);
        c.close();
      }
      src.send({ kind: 'signal-diff', diff: { n: round + 1 } });
    }
    assert.equal(relay.child.exitCode, null, `relay died: ${relay.stderr()}`);
    assert.equal((await fetch(`${relay.http}/healthz`)).status, 200);
    await watcher.until(() => watcher.state.n === 40, 5000, 'the good channel keeps flowing');
    // Fuzzers on /stream/good may have sent inputs; none may have changed the state.
    const fresh = await TestPeer.connect(`${relay.url}/stream/good`);
    await fresh.until(() => fresh.state.n === 40);
    assert.deepEqual(fresh.state, { n: 40 });
    assert.equal(src.closeCode, undefined);
    t.diagnostic(`${sent} hostile frames sent`);
  });
});
