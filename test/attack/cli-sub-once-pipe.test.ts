/**
 * Attack: `sluice sub CH --once | jq .` on a channel whose state is larger than a pipe buffer.
 * The command calls process.exit(0) right after writing the state, before stdout (a pipe) has
 * drained: the consumer gets the first 64 KiB and exit status 0 — the state is silently cut.
 * (`sluice tail --no-follow` on the same amount of output is fine.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestRelay, TestPeer, sleep } from '../support/relay-harness.js';
import { finish, sluice } from '../cli/cli-harness.js';

test('sub --once prints the whole state into a pipe', async () => {
  const relay = await startTestRelay({});
  try {
    const src = await TestPeer.connect(`${relay.url}/source/bigstate`);
    src.send({ kind: 'signal-sync', state: { a: 'x'.repeat(500_000), b: 'y'.repeat(500_000) } });
    await sleep(300);
    const d = await finish(sluice(['sub', 'bigstate', '--relay', relay.url, '--once', '--timeout', '5000']));
    assert.equal(d.code, 0);
    assert.ok(d.stdout.length > 1_000_000, `stdout has ${d.stdout.length} bytes of a ~1,000,000-byte state`);
    assert.doesNotThrow(() => JSON.parse(d.stdout), 'stdout is one whole JSON document');
    src.ws.close();
  } finally {
    await relay.close(1000);
  }
});
