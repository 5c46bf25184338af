// The relay health guard itself (test/support/relay-harness.ts): it must notice an error-level
// log, a contained internal error, an unexpected exit and an uncaught exception, or the hostile
// tests prove nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnRelay, startTestRelay, stderrProblems } from '../support/relay-harness.js';

describe('relay health guard', () => {
  it('an in-process relay that logged at error level fails close()', async () => {
    const relay = await startTestRelay();
    relay.log.warn('only a warning');
    relay.assertHealthy();
    relay.log.child({ conn: 1 }).error({ err: new Error('boom') }, 'peer handler failed');
    assert.throws(() => relay.assertHealthy(), /1 error log/);
    await assert.rejects(relay.close(), /peer handler failed/);
  });

  it('an in-process relay that counted an internal error fails close()', async () => {
    const relay = await startTestRelay();
    (relay.totals as unknown as { internalErrors: number }).internalErrors = 1;
    await assert.rejects(relay.close(), /1 internal error/);
  });

  it('a relay process that exits on its own, or whose stderr shows a crash, is unhealthy', async () => {
    const relay = await spawnRelay();
    relay.assertHealthy();
    process.kill(relay.pid, 'SIGKILL'); // not through relay.kill(): an unexpected exit
    await relay.exited;
    assert.throws(() => relay.assertHealthy(), /exited unexpectedly/);

    const planned = await spawnRelay();
    await planned.stop();
    planned.assertHealthy();

    assert.deepEqual(stderrProblems('{"level":40,"msg":"slow"}\nsluice relay listening on ws://x\n'), []);
    assert.equal(stderrProblems('{"level":50,"msg":"x"}\n{"level":60,"msg":"y"}\n').length, 2);
    assert.equal(stderrProblems("node:events:502\n      throw er; // Unhandled 'error' event\n").length, 1);
    assert.equal(stderrProblems('Uncaught RangeError: x\n').length, 1);
  });
});
