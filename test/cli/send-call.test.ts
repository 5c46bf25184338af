// `sluice send` and `sluice call`: actions and RPC to a channel's source from the command line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { source } from '../../src/client/index.js';
import type { JsonValue } from '../../src/protocol/utf8.js';
import { spawnRelay } from '../support/relay-harness.js';
import { deadPort, finish, sluice, until } from './cli-harness.js';

describe('CLI: send and call', () => {
  it('send delivers an action to the source and exits 0; no source, bad JSON or no relay exit 1 with the reason', { timeout: 60_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    const src = source(`${relay.url}/source/ctl`, { initial: { n: 0 } });
    t.after(() => src.close());
    const actions: JsonValue[] = [];
    // `(action, sender)` or, in the newer SDK, `({action, sender})`.
    src.on('action', (...args: unknown[]) => {
      const a = args[0] as JsonValue;
      actions.push(args.length === 1 && a !== null && typeof a === 'object' && 'sender' in a && 'action' in a ? (a as { action: JsonValue }).action : a);
    });
    await src.when.online();

    const ok = await finish(sluice(['send', 'ctl', '{"type":"inc","by":5}'], env));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    await until(() => actions.length === 1, 5000, 'the action at the source');
    assert.deepEqual(actions, [{ type: 'inc', by: 5 }]);
    assert.equal((await finish(sluice(['send', 'ctl', '"pause"'], env))).code, 0);
    await until(() => actions.length === 2, 5000, 'the second action');
    assert.equal(actions[1], 'pause');

    const none = await finish(sluice(['send', 'nobody', '{}'], env));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^sluice send: no source on nobody/);
    const bad = await finish(sluice(['send', 'ctl', '{oops'], env));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the action is not valid JSON/);
    const down = await finish(sluice(['send', 'ctl', '{}', '--timeout', '500'], { SLUICE_URL: `ws://127.0.0.1:${await deadPort()}` }));
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^sluice send: cannot reach relay at ws:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(actions.length, 2, 'nothing else reached the source');
  });

  it('call prints the result as JSON; handler errors, unknown methods, no source and timeouts exit 1', { timeout: 60_000 }, async (t) => {
    const relay = await spawnRelay();
    t.after(() => relay.child.kill('SIGKILL'));
    const env = { SLUICE_URL: relay.url };
    const src = source(`${relay.url}/source/calc`, { initial: {} });
    t.after(() => src.close());
    src.handle('add', (p) => {
      const { a, b } = p as { a: number; b: number };
      return a + b;
    });
    src.handle('nothing', () => undefined);
    src.handle('boom', () => {
      throw new Error('it broke');
    });
    src.handle('slow', () => new Promise(() => {}));
    await src.when.online();

    const add = await finish(sluice(['call', 'calc', 'add', '{"a":1,"b":2}'], env));
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, '3\n');
    const nothing = await finish(sluice(['call', 'calc', 'nothing'], env));
    assert.deepEqual([nothing.code, nothing.stdout], [0, 'null\n']);

    const boom = await finish(sluice(['call', 'calc', 'boom'], env));
    assert.equal(boom.code, 1);
    assert.match(boom.stderr, /^sluice call: boom failed: handler-failed: it broke/);
    const missing = await finish(sluice(['call', 'calc', 'nope'], env));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope failed: not-found/);
    const slow = await finish(sluice(['call', 'calc', 'slow', '--timeout', '700'], env));
    assert.equal(slow.code, 1);
    assert.match(slow.stderr, /no answer to slow within \d+ ms/);
    assert.ok(slow.ms < 6000, `gave up after ${slow.ms} ms`);
    const none = await finish(sluice(['call', 'nobody', 'add', '{}'], env));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^sluice call: no source on nobody/);
  });
});
