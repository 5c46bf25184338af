/**
 * Attack: reserved keys are data like any other (DESIGN.md "One state semantics"). The relay
 * forwards a change to a `__proto__` member correctly, but a live SDK view never shows it:
 * StreamView.commit computes the changed paths with `pick()`, which assigns `out["__proto__"] = …`
 * (a prototype change, not a key), finds no changed path, and drops the update — while a view
 * that joins later holds the new value. Two views of one channel disagree until some other
 * field changes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { source } from '../../src/client/source.js';
import { subscribe } from '../../src/client/stream-view.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

test('a live view sees changes to a "__proto__" member, like a late joiner', async () => {
  const relay = await startTestRelay({});
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const src = source<any>(`${relay.url}/source/rk`, { initial: { a: 1 } });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const live = subscribe<any>(`${relay.url}/stream/rk`);
  live.on('error', () => {});
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let late: ReturnType<typeof subscribe<any>> | undefined;
  try {
    await src.when.online();
    await live.when.ready();
    src.state['__proto__'] = { p: 1 };
    const want = JSON.stringify(src.get());
    const cache = () => relay.channels.get('rk')!.cache.state;
    await until(() => Object.prototype.hasOwnProperty.call(cache(), '__proto__'), 10_000, 'the relay to hold the change');
    late = subscribe(`${relay.url}/stream/rk`);
    late.on('error', () => {});
    await late.when.ready();
    // Both views get their chance to converge; then the same assertions as before.
    const l = late;
    await until(() => JSON.stringify(l.get()) === want && JSON.stringify(live.get()) === want, 5000, 'both views').catch(() => {});
    assert.equal(JSON.stringify(late.get()), want, 'late joiner');
    assert.equal(JSON.stringify(live.get()), want, 'live view (joined before the change)');
  } finally {
    await late?.close();
    await live.close();
    await src.close();
    await relay.close(1000);
  }
});
