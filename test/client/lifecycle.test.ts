// Issue #11: clients never fail silently. Every failure is an `error` event saying what the client
// does next; refusals retrying cannot fix stop for good; backoff grows while the relay refuses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClosedError, ConnectionError, ConnectionRefusedError, source, subscribe } from '../../src/client/index.js';
import type { StateChange , ClientError} from '../../src/client/index.js';
import { SluiceError } from '../../src/protocol/errors.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';
import { FakeRelay } from './fake-relay.js';

const fast = { backoff: { initialMs: 20, maxMs: 100 } };

/** A port nothing listens on (a relay that was there and is gone). */
async function deadPort(): Promise<number> {
  const r = await startTestRelay();
  const port = r.port;
  await r.close();
  return port;
}

describe('client lifecycle', () => {
  it('subscribe() on a dead port reports error events with retryInMs and is `reconnecting`', async (t) => {
    const port = await deadPort();
    const view = subscribe(`ws://127.0.0.1:${port}/stream/x`, fast);
    t.after(() => view.close());
    const errors: ClientError[] = [];
    const states: StateChange[] = [];
    view.on('error', (e) => errors.push(e));
    view.on('state', (s) => states.push(s));
    await until(() => errors.length >= 2, 5000, 'two error events');
    const e = errors[0]!;
    assert.ok(e instanceof ConnectionError && e instanceof SluiceError);
    assert.equal(e.code, 'client/unreachable');
    assert.equal(e.fatal, false);
    assert.equal(typeof e.retryInMs, 'number');
    assert.equal(view.connectionState, 'reconnecting');
    assert.deepEqual(states[0], { previous: 'connecting', current: 'reconnecting', error: e });
    assert.equal(view.error, undefined, 'not fatal');
  });

  it('a second source on a busy channel is refused for good (4409) with an error, unless it waits', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const first = source(`${relay.url}/source/busy`, { initial: { who: 1 } });
    await first.when.online();
    const second = source(`${relay.url}/source/busy`, { ...fast, initial: { who: 2 } });
    const errors: ClientError[] = [];
    second.on('error', (e) => errors.push(e));
    const refusal = await second.closed;
    assert.ok(refusal instanceof ConnectionRefusedError);
    assert.equal(refusal.closeCode, 4409);
    assert.equal(refusal.fatal, true);
    assert.equal(second.connectionState, 'refused');
    assert.deepEqual(errors, [refusal]);
    await assert.rejects(second.when.online(), ConnectionRefusedError);
    const reconnects = second.reconnects;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second.reconnects, reconnects, 'no more attempts');

    // With waitForChannel it retries (error events with retryInMs) and takes the channel once free.
    const waiting = source(`${relay.url}/source/busy`, { ...fast, waitForChannel: true, initial: { who: 3 } });
    t.after(() => waiting.close());
    const waitErrors: ClientError[] = [];
    waiting.on('error', (e) => waitErrors.push(e));
    await until(() => waitErrors.length >= 2, 5000, 'retries while the channel is busy');
    assert.ok(waitErrors.every((e) => e instanceof ConnectionError && (e as ConnectionError).closeCode === 4409 && e.retryInMs !== undefined));
    await first.close();
    await waiting.when.online();
    assert.equal(waiting.connectionState, 'live');
  });

  it('backoff grows while the relay refuses right after the handshake (no reset on open)', async (t) => {
    for (const code of [4509, 4429, 4413, 1001]) {
      const fake = await FakeRelay.start((c) => c.close(code, 'refused right after the handshake'));
      const view = subscribe(`${fake.url}/stream/x`, { backoff: { initialMs: 50, maxMs: 400 } });
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 1500));
      const attempts = fake.conns.length;
      await view.close();
      await fake.close();
      // Delays are random(0, 50·2^n) capped at 400: about 9 attempts in 1.5 s. With the attempt
      // counter reset on every open, it was random(0, 50) each time: 40+.
      assert.ok(attempts <= 20, `close ${code}: ${attempts} connections in ${Date.now() - started} ms`);
      assert.ok(attempts >= 3, `close ${code}: still retrying (${attempts})`);
    }
    void t;
  });

  it('a connection that delivered data resets the backoff: every retry after one is from the first step', async (t) => {
    const fake = await FakeRelay.start((c, i) => {
      c.welcome('receiver');
      c.send({ kind: 'signal-sync', state: { n: i } });
      if (i < 4) setTimeout(() => c.close(1001, 'restart'), 20);
    });
    t.after(() => fake.close());
    const view = subscribe<{ n: number }>(`${fake.url}/stream/x`, { backoff: { initialMs: 50, factor: 10, maxMs: 100_000 } });
    t.after(() => view.close());
    const delays: number[] = [];
    view.on('error', (e) => delays.push(e.retryInMs!));
    await until(() => view.get().n === 4, 5000, 'four reconnects after data');
    assert.equal(delays.length, 4);
    assert.ok(delays.every((d) => d < 50), `delays ${delays.join(', ')} should all be < 50 ms (first step)`);
  });

  it('refusals that retrying cannot fix: 4404, 4403, 4401, 4400 at the handshake', async (t) => {
    const relay = await startTestRelay();
    const auth = await startTestRelay({ auth: 'jwt', jwtSecret: 'x'.repeat(40) });
    t.after(async () => {
      await relay.close();
      await auth.close();
    });
    const cases: Array<[string, number]> = [
      [`${relay.url}/nothing/here`, 4404],
      [`${auth.url}/stream/x`, 4401],
      [`${relay.url}/stream/${'%00bad'}`, 4400],
    ];
    for (const [url, code] of cases) {
      const view = subscribe(url, fast);
      const ready = view.when.ready();
      const online = view.when.online();
      const err = await view.closed;
      assert.ok(err instanceof ConnectionRefusedError, `${url}: ${String(err)}`);
      assert.equal(err.closeCode, code, url);
      assert.equal(view.connectionState, 'refused');
      await assert.rejects(ready, ConnectionRefusedError);
      await assert.rejects(online, ConnectionRefusedError);
      assert.equal(view.reconnects, 0);
    }
    const fake = await FakeRelay.start((c) => c.close(4403, 'origin not allowed'));
    t.after(() => fake.close());
    const v = subscribe(`${fake.url}/stream/x`, fast);
    const e = await v.closed;
    assert.ok(e instanceof ConnectionRefusedError && e.closeCode === 4403);
  });

  it('state events, closed promise, asyncDispose; when.* reject on close; iterators end on close', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/life`, { initial: { n: 1 } });
    t.after(() => src.close());
    const view = subscribe<{ n: number }>(`${relay.url}/stream/life`);
    const states: string[] = [];
    view.on('state', (s) => states.push(`${s.previous}→${s.current}`));
    await view.when.ready();
    const it = view[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.n, 1);
    const pending = it.next();
    const loop = (async () => {
      let n = 0;
      for await (const _ of view) n++;
      return n;
    })();
    await until(() => view.iteratorCount === 2);
    const never = subscribe(`${relay.url}/stream/never`);
    const neverReady = never.when.ready();
    await never.close();
    await assert.rejects(neverReady, ClosedError);
    await view[Symbol.asyncDispose]();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.equal(await loop, 1, 'the for-await loop got the current state, then ended on close');
    assert.equal(view.iteratorCount, 0, 'no listener left behind');
    assert.equal(view.listenerCount('change'), 0);
    assert.equal(await view.closed, undefined);
    assert.deepEqual(states, ['connecting→live', 'live→closed']);
  });
});
