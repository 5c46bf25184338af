// The go-ws hub protocol at /ws, spoken by a plain WebSocket client written for go-ws.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { source } from '../../src/client/index.js';
import { streamProcess } from '../../src/process/stream-process.js';
import { sleep, startTestRelay } from '../support/relay-harness.js';

interface Msg {
  type: string;
  channel?: string;
  processId?: string;
  data?: unknown;
  timestamp: string;
}

async function hubClient(url: string) {
  const ws = new WebSocket(url);
  const msgs: Msg[] = [];
  ws.on('message', (d, isBinary) => {
    assert.equal(isBinary, false, 'every message is a text frame');
    msgs.push(JSON.parse(d.toString()) as Msg);
  });
  await new Promise((r) => ws.once('open', r));
  const send = (m: object) => ws.send(JSON.stringify(m));
  const until = async (pred: () => boolean, what: string) => {
    const end = Date.now() + 5000;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}; got ${JSON.stringify(msgs).slice(0, 500)}`);
      await sleep(10);
    }
  };
  return { ws, msgs, send, until };
}

describe('go-ws compatible endpoint', () => {
  it('subscribe, process_output, process_status, ping/pong, unsubscribe', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.close());
    c.send({ type: 'subscribe', data: 'process:build-1' });
    await sleep(50);
    const p = streamProcess(relay.url, 'build-1', 'sh', ['-c', 'echo compiling...; echo warning >&2; echo done; exit 2']);
    const st = await p.done;
    assert.equal(st.exitCode, 2);
    await c.until(() => c.msgs.some((m) => m.type === 'process_status' && (m.data as { status: string }).status === 'exited'), 'exit status');
    const output = c.msgs.filter((m) => m.type === 'process_output');
    // Order is kept within a stream; stdout and stderr are separate pipes, so not across them.
    const of = (stream: string) => output.filter((m) => (m as { stream?: string }).stream === stream).map((m) => m.data);
    assert.deepEqual(of('stdout'), ['compiling...', 'done']);
    assert.deepEqual(of('stderr'), ['warning']);
    for (const m of output) {
      assert.equal(m.channel, 'process:build-1');
      assert.equal(m.processId, 'build-1');
      assert.ok(!Number.isNaN(Date.parse(m.timestamp)), 'RFC 3339 timestamp');
    }
    const statuses = c.msgs.filter((m) => m.type === 'process_status').map((m) => m.data);
    assert.deepEqual(statuses[0], { status: 'running', exitCode: 0 }); // go-ws sends 0 while running
    assert.deepEqual(statuses[statuses.length - 1], { status: 'exited', exitCode: 2 });

    c.send({ type: 'ping' });
    await c.until(() => c.msgs.some((m) => m.type === 'pong'), 'pong');

    // After unsubscribe nothing more arrives for that channel.
    c.send({ type: 'unsubscribe', data: 'process:build-1' });
    await sleep(50);
    const count = c.msgs.length;
    await streamProcess(relay.url, 'build-1b', 'sh', ['-c', 'echo other']).done;
    const again = streamProcess(relay.url, 'build-1', 'sh', ['-c', 'echo ignored']);
    await again.done;
    await sleep(100);
    assert.equal(c.msgs.filter((m) => m.data === 'ignored').length, 0);
    assert.equal(c.msgs.length, count);
  });

  it('a late subscriber gets the history; other channels arrive as events; bad messages get errors', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    await streamProcess(relay.url, 'old', 'sh', ['-c', 'echo one; echo two']).done;
    const counter = source(`${relay.url}/source/counter`, { initial: { count: 1 } });
    t.after(() => void counter.close());
    await counter.when.online();
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.close());
    c.send({ type: 'subscribe', data: 'process:old' });
    c.send({ type: 'subscribe', data: 'counter' });
    await c.until(() => c.msgs.filter((m) => m.type === 'process_output').length === 2, 'history');
    await c.until(() => c.msgs.some((m) => m.type === 'event' && m.channel === 'counter' && (m.data as { count?: number }).count === 1), 'state as event');
    counter.state.count = 2;
    await c.until(() => c.msgs.some((m) => m.type === 'event' && JSON.stringify(m.data) === '{"count":2}'), 'diff as event');
    c.send({ type: 'subscribe', data: 'bad name!' });
    c.ws.send('not json');
    c.send({ type: 'dance' });
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 3, 'three errors');
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'errors are not fatal');
  });
});
