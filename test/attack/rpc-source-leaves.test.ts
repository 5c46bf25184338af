/**
 * Attack: issue 11 — "RPC that fails fast". A call the relay cannot route is answered at once, but
 * a call already delivered to a source that then goes away (process dies, connection drops) is
 * never answered: the relay tells the view `source-status online:false`, yet `view.call()` waits
 * out its whole timeout (here 8 s) and then reports a generic timeout instead of "source left".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { source } from '../../src/client/source.js';
import { subscribe } from '../../src/client/stream-view.js';
import { startTestRelay, sleep } from '../support/relay-harness.js';

test('a call outstanding when the source leaves fails fast', async () => {
  const relay = await startTestRelay({});
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const src = source<any>(`${relay.url}/source/rpcgone`, { initial: { a: 1 } });
  src.handle('hang', () => new Promise(() => {}));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const view = subscribe<any>(`${relay.url}/stream/rpcgone`);
  view.on('error', () => {});
  try {
    await src.when.online();
    await view.when.ready();
    const t = Date.now();
    const outcome = view.call('hang', null, { timeoutMs: 8000 }).then(
      () => 'resolved',
      (e: { code?: string }) => String(e.code),
    );
    await sleep(200);
    await src.close();
    const code = await outcome;
    const ms = Date.now() - t;
    assert.ok(ms < 2000, `call settled (${code}) only after ${ms} ms although the source left after 200 ms`);
  } finally {
    await view.close();
    await relay.close(1000);
  }
});
