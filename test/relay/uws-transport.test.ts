// The relay on the uWebSockets.js transport (--transport uws): the core relay suites, run again
// with SLUICE_TEST_TRANSPORT=uws in a child test run. Two shutdown tests and the same-port restart
// test are ws-only by design (uWS closes without waiting for a stalled peer, and this uWS build
// cannot rebind a port with connections in TIME_WAIT) — see docs/relay.md.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUITES = [
  'test/relay/routing.test.ts',
  'test/relay/catch-up.test.ts',
  'test/relay/select.test.ts',
  'test/relay/inputs-and-roles.test.ts',
  'test/relay/limits.test.ts',
  'test/relay/lifecycle.test.ts',
  'test/relay/log-channel.test.ts',
  'test/relay/auth.test.ts',
  'test/relay/batching.test.ts',
  'test/relay/slow-receiver.test.ts',
  'test/client/source-and-view.test.ts',
  'test/process/gows-endpoint.test.ts',
];

describe('uWebSockets.js transport', () => {
  it('passes the core relay, client and go-ws suites', { timeout: 300_000 }, () => {
    if (process.env.SLUICE_TEST_TRANSPORT === 'uws') return; // already inside the uws run
    // A nested test run must not think it reports to a parent runner.
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...SUITES], {
      cwd: ROOT,
      env: { ...env, SLUICE_TEST_TRANSPORT: 'uws', SLUICE_LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const pass = Number(/^# pass (\d+)/m.exec(r.stdout)?.[1] ?? 0);
    const fail = Number(/^# fail (\d+)/m.exec(r.stdout)?.[1] ?? 0);
    const failures = r.stdout.split('\n').filter((l) => /^\s*not ok/.test(l));
    assert.equal(fail, 0, `failed on uws:\n${failures.join('\n')}`);
    assert.ok(pass >= 50, `only ${pass} tests ran on uws`);
    assert.equal(r.status, 0);
  });
});
