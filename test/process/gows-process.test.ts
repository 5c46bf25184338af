// The /ws attacks against `sluice relay` as a child process: the process must stay up, say
// nothing about uncaught errors, answer /healthz, and keep serving /ws on other channels.
// (Runs the built relay in dist/, like the other CLI tests.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { TestPeer, sleep, spawnRelay } from '../support/relay-harness.js';

interface Msg {
  type: string;
  channel?: string;
  data?: unknown;
}

async function hubClient(url: string) {
  const ws = new WebSocket(url);
  const msgs: Msg[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as Msg));
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(new Error(`${url}: closed before it opened`)));
  });
  const send = (m: object | string) => ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  const until = async (pred: () => boolean, what: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}; got ${JSON.stringify(msgs).slice(-300)}`);
      await sleep(10);
    }
  };
  return { ws, msgs, send, until };
}

const enc = (s: string) => new TextEncoder().encode(s);
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('/ws attacks against a relay process', () => {
  it('survives hostile records, deep messages and a subscription burst, and keeps serving', async (t) => {
    const relay = await spawnRelay();
    let exited: string | undefined;
    relay.child.on('exit', (code, signal) => (exited = `code ${code} signal ${signal}`));
    t.after(() => relay.child.kill('SIGKILL'));
    const assertAlive = (after: string) => assert.equal(exited, undefined, `relay exited after ${after}: ${relay.stderr().slice(-1500)}`);

    // A neighbour following another channel the whole time.
    const neighbour = await hubClient(`${relay.url}/ws`);
    t.after(() => neighbour.ws.close());
    neighbour.send({ type: 'subscribe', data: 'process:good' });
    await neighbour.until(() => neighbour.msgs.some((m) => m.channel === 'process:good'), 'neighbour subscribed');

    // 1. Records whose translation used to throw inside the flush scheduler.
    const victim = await hubClient(`${relay.url}/ws`);
    t.after(() => victim.ws.close());
    victim.send({ type: 'subscribe', data: 'process:evil' });
    await victim.until(() => victim.msgs.some((m) => m.channel === 'process:evil'), 'victim subscribed');
    const src = await TestPeer.connect(`${relay.url}/source/process:evil`);
    t.after(() => src.close());
    const rec = (stream: 'stdout' | 'status' | 'event', text: string, time = Date.now()) => src.send({ kind: 'log-record', offset: 0, time, stream, data: enc(text) });
    rec('status', `{"status":${deep(10_000)},"exitCode":1}`);
    rec('event', deep(10_000));
    rec('stdout', 'late in time\n', 2 ** 53 - 1);
    await sleep(300);
    assertAlive('hostile records sent live');
    // …and replayed from history to a late subscriber.
    const late = await hubClient(`${relay.url}/ws`);
    t.after(() => late.ws.close());
    late.send({ type: 'subscribe', data: 'process:evil' });
    await sleep(300);
    assertAlive('hostile records replayed from history');

    // 2. A message whose echo used to overflow the stack in an un-awaited promise.
    late.send(`{"type":${deep(10_000)}}`);
    await sleep(300);
    assertAlive('a message nested 10,000 deep');
    // 3. A subscription burst.
    for (let i = 0; i < 500; i++) late.send({ type: 'subscribe', data: `burst-${i}` });
    await late.until(() => late.msgs.filter((m) => m.type === 'error').length >= 400, 'burst refused', 10_000);
    await sleep(300);

    assertAlive('a subscription burst');
    assert.doesNotMatch(relay.stderr(), /uncaught|unhandled|RangeError|Maximum call stack/i);
    const health = await fetch(`${relay.http}/healthz`);
    assert.equal(health.status, 200);

    // The neighbour still receives on its channel.
    const good = await TestPeer.connect(`${relay.url}/source/process:good`);
    t.after(() => good.close());
    good.send({ kind: 'log-record', offset: 0, time: Date.now(), stream: 'stdout', data: enc('still here\n') });
    await neighbour.until(() => neighbour.msgs.some((m) => m.type === 'process_output' && m.data === 'still here'), 'neighbour receives');
  });
});
