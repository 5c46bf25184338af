// Source-side log delivery with acknowledgements: producer seq 1, 2, 3…, kept until acked,
// resent in order after a reconnect, bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientError, LogAckTimeoutError, LogOverflowError, source, subscribe } from '../../src/client/index.js';
import type { LogRecordEvent } from '../../src/client/index.js';
import type { Message } from '../../src/protocol/message.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';
import { FakeRelay } from './fake-relay.js';

const fast = { backoff: { initialMs: 10, maxMs: 50 } };
const records = (ms: Message[]) => ms.map((m) => (m.kind === 'log-record' ? `${m.offset}:${new TextDecoder().decode(m.data)}` : ''));

describe('client source logs', () => {
  it('keeps records until acked, resends the unacked ones in order after a reconnect, drops what Welcome.logAcked covers', async (t) => {
    const fake = await FakeRelay.start((c, i) => c.welcome('source', { logAcked: i === 0 ? 0 : 2 }));
    t.after(() => fake.close());
    const src = source(`${fake.url}/source/logs`, fast);
    t.after(() => src.close());
    await src.when.online();
    const c0 = await fake.connection(0);
    assert.match(c0.query.get('producer') ?? '', /^[A-Za-z0-9_-]{1,64}$/);
    src.log('stdout', 'a');
    src.log('stderr', new TextEncoder().encode('b'));
    src.log('status', JSON.stringify({ status: 'running' }));
    await until(() => c0.messages('log-record').length === 3, 2000, 'three records');
    assert.deepEqual(records(c0.messages('log-record')), ['1:a', '2:b', '3:{"status":"running"}']);
    c0.logAck(2);
    await until(() => src.unackedLogs === 1, 2000, 'two acked');
    assert.equal(src.logAckedSeq, 2);
    const acked = src.logsAcked(5000);
    let settled = false;
    void acked.then(() => (settled = true));
    // Written while disconnected (the state event is synchronous with the close).
    const off = src.on('state', ({ current }) => {
      if (current !== 'reconnecting') return;
      off();
      src.log('stdout', 'd');
    });
    c0.close(1001, 'restart');
    const c1 = await fake.connection(1);
    assert.equal(c1.query.get('producer'), c0.query.get('producer'), 'the producer id is stable across reconnects');
    await until(() => c1.messages('log-record').length === 2, 2000, 'resent');
    assert.deepEqual(records(c1.messages('log-record')), ['3:{"status":"running"}', '4:d']);
    assert.equal(settled, false);
    c1.logAck(3);
    await until(() => settled, 2000, 'everything written before logsAcked() was called is acked');
    assert.equal(src.unackedLogs, 1);
    c1.logAck(4);
    await src.logsAcked(1000);
    assert.equal(src.unackedLogs, 0);
  });

  it('logsAcked() rejects with a typed error on timeout and on close', async (t) => {
    const fake = await FakeRelay.start((c) => c.welcome('source', { logAcked: 0 }));
    t.after(() => fake.close());
    const src = source(`${fake.url}/source/logs`, { closeTimeoutMs: 150 });
    const errors: ClientError[] = [];
    src.on('error', (e) => errors.push(e));
    await src.when.online();
    src.log('stdout', 'never acked');
    await assert.rejects(src.logsAcked(100), (e: unknown) => e instanceof LogAckTimeoutError && e.code === 'client/log-ack-timeout' && e.unacked === 1);
    const pending = assert.rejects(src.logsAcked(5000), (e: unknown) => e instanceof ClientError && e.code === 'client/closed');
    // close() waits for the acks up to closeTimeoutMs, then says what it could not deliver.
    await src.close();
    await pending;
    assert.ok(errors.some((e) => e instanceof LogAckTimeoutError), 'close() reported the unacked record');
  });

  it('the unacked buffer is bounded: the oldest records go, with an error event and a count', async (t) => {
    const fake = await FakeRelay.start((c) => c.welcome('source', { logAcked: 0 }));
    t.after(() => fake.close());
    const src = source(`${fake.url}/source/logs`, { maxUnackedLogBytes: 1000 });
    t.after(() => src.close());
    const errors: ClientError[] = [];
    src.on('error', (e) => errors.push(e));
    await src.when.online();
    for (let i = 0; i < 20; i++) src.log('stdout', 'x'.repeat(100));
    assert.ok(src.logsDropped > 0 && src.unackedLogs < 20);
    assert.equal(src.logsDropped + src.unackedLogs, 20);
    assert.equal(errors.length, 1, 'one overflow report per second at most');
    assert.ok(errors[0] instanceof LogOverflowError && errors[0].fatal === false);
    const c = await fake.connection(0);
    c.logAck(20);
    await src.logsAcked(1000);
  });

  it('through the relay: log() lines reach a log view in order', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/proc`);
    t.after(() => src.close());
    await src.when.online();
    for (let i = 0; i < 20; i++) src.log(i % 2 ? 'stderr' : 'stdout', `line ${i}`);
    const view = subscribe(`${relay.url}/stream/proc`);
    t.after(() => view.close());
    const lines: string[] = [];
    view.on('log', (r: LogRecordEvent) => lines.push(r.text));
    await until(() => lines.length === 20, 3000, 'twenty lines');
    assert.deepEqual(lines, Array.from({ length: 20 }, (_, i) => `line ${i}`));
    await src.logsAcked(3000);
  });
});
