import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster } from './cluster-harness.js';
import type { Node } from './cluster-harness.js';

const online = (p: TestPeer) => p.messages('source-status').slice(-1).some((m) => m.kind === 'source-status' && m.status.online);

describe('cluster: inputs, RPC and one source per channel across nodes', () => {
  const cluster = new Cluster();
  let a: Node;
  let b: Node;
  let c: Node;
  before(async () => {
    [a, b, c] = await Promise.all([cluster.start(['--takeover-channels', 'tk-*']), cluster.start(['--takeover-channels', 'tk-*']), cluster.start(['--takeover-channels', 'tk-*'])]);
  });
  after(() => cluster.stop());

  it('an input from a receiver on B reaches the source on A, tagged; RPC results come back to the caller only', async () => {
    const src = await TestPeer.connect(`${a.url}/source/rpc`);
    const caller = await TestPeer.connect(`${b.url}/stream/rpc`);
    const other = await TestPeer.connect(`${c.url}/stream/rpc`);
    const bystander = await TestPeer.connect(`${b.url}/stream/rpc`);
    await caller.until(() => online(caller), 10_000, 'source online on B');
    await other.until(() => online(other), 10_000, 'source online on C');
    caller.send({ kind: 'input', event: { input: 'text', text: 'hi' } });
    const input = await src.next('input', 10_000);
    assert.deepEqual(input.event, { input: 'text', text: 'hi' });
    assert.equal(typeof input.sender, 'number');
    for (const [i, peer] of [caller, other].entries()) {
      peer.send({ kind: 'rpc-call', call: { id: i, method: 'add', params: [i, 10] } });
      const call = await src.next('rpc-call', 10_000);
      assert.equal(call.call.id, i);
      src.send({ kind: 'rpc-result', sender: call.sender!, result: { id: i, result: i + 10 } });
      const res = await peer.next('rpc-result', 10_000);
      assert.deepEqual(res.result, { id: i, result: i + 10 });
      assert.equal(res.sender, undefined);
    }
    assert.equal(bystander.messages('rpc-result').length, 0, 'results go to the caller only');
    assert.equal(other.messages('rpc-result').length, 1);
    for (const p of [src, caller, other, bystander]) p.close();
  });

  it('an RPC call with no source anywhere is answered at once with no-source', async () => {
    const r = await TestPeer.connect(`${b.url}/stream/nobody`);
    await r.next('welcome');
    r.send({ kind: 'rpc-call', call: { id: 7, method: 'x' } });
    const res = await r.next('rpc-result', 10_000);
    assert.equal((res.result as { error?: { code: string } }).error?.code, 'no-source');
    r.close();
  });

  it('reject policy: a second source on another node is closed with 4409; the first keeps writing', async () => {
    const first = await TestPeer.connect(`${a.url}/source/rj`);
    const watcher = await TestPeer.connect(`${c.url}/stream/rj`);
    first.send({ kind: 'signal-sync', state: { who: 'first' } });
    await watcher.until(() => watcher.state.who === 'first', 10_000, 'first state');
    const second = await TestPeer.connect(`${b.url}/source/rj`);
    second.send({ kind: 'signal-sync', state: { who: 'second' } });
    assert.equal(await second.waitClose(10_000), CloseCode.SourceConflict);
    // Refused at the handshake, as on one relay: an Error, then the close — never a Welcome.
    assert.deepEqual(
      second.messages().map((m) => m.kind),
      ['error'],
    );
    // The first source got its Welcome (after its node took the lease).
    assert.equal(first.messages('welcome').length, 1);
    first.send({ kind: 'signal-diff', diff: { n: 1 } });
    await watcher.until(() => watcher.state.n === 1, 10_000, 'first still writes');
    assert.equal(watcher.state.who, 'first', 'the refused source never wrote');
    first.close();
    watcher.close();
  });

  it('takeover policy: a new source on another node replaces the old one, which is closed with 4409', async () => {
    const old = await TestPeer.connect(`${a.url}/source/tk-1`);
    const watcher = await TestPeer.connect(`${c.url}/stream/tk-1`);
    old.send({ kind: 'signal-sync', state: { who: 'old', n: 1 } });
    await watcher.until(() => watcher.state.who === 'old', 10_000, 'old state');
    const fresh = await TestPeer.connect(`${b.url}/source/tk-1`);
    assert.equal(await old.waitClose(10_000), CloseCode.SourceConflict);
    fresh.send({ kind: 'signal-diff', diff: { who: 'new' } });
    await watcher.until(() => watcher.state.who === 'new' && watcher.state.n === 1, 10_000, 'new source writes on top of the merged state');
    // Inputs now reach the new source.
    watcher.send({ kind: 'input', event: { input: 'text', text: 'to-new' } });
    const input = await fresh.next('input', 10_000);
    assert.deepEqual(input.event, { input: 'text', text: 'to-new' });
    fresh.close();
    watcher.close();
  });
});
