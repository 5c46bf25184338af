import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { source, subscribe } from '../../src/client/index.js';
import { sleep, startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';


describe('client reconnect', () => {
  it('the relay restarts mid-stream; source and receiver reconnect and converge to the right state', async (t) => {
    let relay = await startTestRelay();
    const port = relay.port;
    const opts = { backoff: { initialMs: 50, maxMs: 200 }, pingIntervalMs: 200 };
    const src = source(`ws://127.0.0.1:${port}/source/restart`, { ...opts, initial: { n: 0, history: [] as number[] } });
    const view = subscribe<{ n: number; history: number[] }>(`ws://127.0.0.1:${port}/stream/restart`, opts);
    t.after(async () => {
      void src.close();
      void view.close();
      await relay.close();
    });
    await until(() => view.get().n === 0 && view.connected, 5000, 'first state');
    let n = 0;
    const timer = setInterval(() => {
      n++;
      src.state.n = n;
      src.state.history.push(n);
      if (src.state.history.length > 5) src.state.history.shift();
    }, 10);
    await sleep(200);
    // The relay dies (its memory engine forgets everything) and comes back on the same port.
    await relay.close(200);
    await sleep(300);
    relay = await startTestRelay({ port });
    await sleep(300);
    clearInterval(timer);
    await until(() => view.get().n === n, 8000, `receiver converges to n=${n}`);
    assert.deepEqual(view.get(), { n, history: src.get().history });
    assert.ok(view.reconnects >= 1 && src.reconnects >= 1, 'both reconnected');
    assert.equal(view.error, undefined);
  });

  it('a log view resumes after a disconnect with no gap and no duplicate', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/logv`);
    await src.when.online();
    const send = (i: number) => src.publishFrame({ kind: 'log-record', offset: 0, time: Date.now(), stream: 'stdout', data: new TextEncoder().encode(`line ${i}`) });
    for (let i = 0; i < 50; i++) send(i);
    const view = subscribe(`${relay.url}/stream/logv`, { backoff: { initialMs: 20, maxMs: 50 } });
    const lines: string[] = [];
    view.on('log', (r) => lines.push(r.text));
    t.after(() => {
      void src.close();
      void view.close();
    });
    await until(() => lines.length === 50);
    // Drop the view's connection from the relay side; records keep flowing meanwhile.
    for (const r of relay.channels.get('logv')!.receivers.values()) r.conn.terminate();
    for (let i = 50; i < 100; i++) send(i);
    await until(() => lines.length === 100, 5000, 'resumed');
    await sleep(100);
    assert.deepEqual(lines, Array.from({ length: 100 }, (_, i) => `line ${i}`));
    assert.ok(view.reconnects >= 1);
  });
});
