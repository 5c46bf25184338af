// Attacks on the go-ws endpoint at /ws, driven against a real relay with raw `ws` clients.
// Each one used to crash the relay, exhaust it, or buffer without bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { CloseCode } from '../../src/protocol/close-codes.js';
import type { Message } from '../../src/protocol/message.js';
import { GoWsPeer } from '../../src/relay/gows-endpoint.js';
import type { Relay } from '../../src/relay/server.js';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

interface Msg {
  type: string;
  channel?: string;
  data?: unknown;
  code?: number;
  timestamp: string | null;
  [extra: string]: unknown;
}

async function hubClient(url: string) {
  const ws = new WebSocket(url);
  const msgs: Msg[] = [];
  let closeCode: number | undefined;
  let closeReason = '';
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as Msg));
  ws.on('close', (code, reason) => {
    closeCode = code;
    closeReason = reason.toString();
  });
  ws.on('error', () => {});
  await new Promise((r) => ws.once('open', r));
  const send = (m: object | string) => ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  const until = async (pred: () => boolean, what: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}; got ${JSON.stringify(msgs).slice(-500)}`);
      await sleep(10);
    }
  };
  const tcp = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  return {
    ws,
    msgs,
    send,
    until,
    pause: () => tcp.pause(),
    resume: () => tcp.resume(),
    get closeCode() {
      return closeCode;
    },
    get closeReason() {
      return closeReason;
    },
  };
}

const enc = (s: string) => new TextEncoder().encode(s);
const record = (stream: 'stdout' | 'stderr' | 'status' | 'event', data: Uint8Array | string, time = Date.now()): Message => ({
  kind: 'log-record',
  offset: 0,
  time,
  stream,
  data: typeof data === 'string' ? enc(data) : data,
});
const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const goWsPeers = (relay: Relay) => [...relay.peers].filter((p): p is GoWsPeer => p instanceof GoWsPeer);

/** The relay still works: a fresh /ws client gets a pong and follows a fresh channel. */
async function assertRelayServes(relay: Relay, channel: string): Promise<void> {
  const c = await hubClient(`${relay.url}/ws`);
  try {
    c.send({ type: 'ping' });
    await c.until(() => c.msgs.some((m) => m.type === 'pong'), 'pong from a fresh client');
    c.send({ type: 'subscribe', data: channel });
    await c.until(() => c.msgs.some((m) => m.channel === channel), 'the fresh subscription is live');
    const src = await TestPeer.connect(`${relay.url}/source/${channel}`);
    src.send(record('stdout', 'alive\n'));
    await c.until(() => c.msgs.some((m) => m.type === 'process_output' && m.data === 'alive'), 'a line on another channel');
    src.close();
  } finally {
    c.ws.close();
  }
}

describe('/ws attacks', () => {
  it('hostile log records (deep JSON, times past the Date range, bad UTF-8) neither crash the relay nor the subscribers that replay them', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const live = await hubClient(`${relay.url}/ws`);
    t.after(() => live.ws.close());
    live.send({ type: 'subscribe', data: 'process:evil' });
    await live.until(() => live.msgs.some((m) => m.channel === 'process:evil'), 'subscribed');

    const src = await TestPeer.connect(`${relay.url}/source/process:evil`);
    t.after(() => src.close());
    const deep = deepArray(10_000);
    src.send(record('status', `{"status":${deep},"exitCode":0}`));
    src.send(record('status', deep));
    src.send(record('status', 'null'));
    src.send(record('event', `{"a":${deep}}`));
    src.send(record('stdout', 'far future\n', 2 ** 53 - 1));
    src.send(record('stdout', 'just past the Date range\n', 8.64e15 + 1));
    src.send(record('stderr', new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0x0a])));
    src.send(record('stdout', 'after\n'));
    const reached = (c: { msgs: Msg[] }) => c.msgs.some((m) => m.data === 'after') || src.closeCode !== undefined;
    // (An input check may refuse such records at the source; either way nothing crashes.)
    await live.until(() => reached(live), 'the record after the hostile ones, or the source refused');
    for (const m of live.msgs) assert.ok(m.timestamp === null || !Number.isNaN(Date.parse(m.timestamp)), `timestamp ${m.timestamp}`);

    // History keeps the records: every later subscriber replays them.
    for (let i = 0; i < 3; i++) {
      const late = await hubClient(`${relay.url}/ws`);
      late.send({ type: 'subscribe', data: 'process:evil' });
      await late.until(() => reached(late) && late.msgs.some((m) => m.channel === 'process:evil'), 'late subscriber replays history');
      late.send({ type: 'ping' });
      await late.until(() => late.msgs.some((m) => m.type === 'pong'), 'late subscriber still served');
      late.ws.close();
    }
    assert.equal(live.ws.readyState, WebSocket.OPEN);
    await assertRelayServes(relay, 'process:other');
  });

  it('one connection may follow at most maxWsSubscriptions channels; the rest get a 4509 error and create nothing', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    assert.equal(relay.config.maxWsSubscriptions, 100);
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.close());
    for (let i = 0; i < 150; i++) c.send({ type: 'subscribe', data: `hog-${i}` });
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 50, '50 refusals');
    await sleep(50);
    for (const e of c.msgs.filter((m) => m.type === 'error')) assert.equal(e.code, CloseCode.NoCapacity);
    assert.equal(goWsPeers(relay)[0]!.subscriptions.length, 100);
    assert.equal([...relay.channels.keys()].filter((n) => n.startsWith('hog-')).length, 100, 'refused subscriptions create no channel');
    // Unsubscribing frees a slot.
    c.send({ type: 'unsubscribe', data: 'hog-0' });
    c.send({ type: 'subscribe', data: 'hog-new' });
    await c.until(() => c.msgs.some((m) => m.channel === 'hog-new' && m.type !== 'error'), 'a freed slot is usable');
    // Other clients are unaffected.
    await assertRelayServes(relay, 'process:neighbour');
  });

  it('subscriptions waiting for an async authorizer count toward the cap', async (t) => {
    const relay = await startTestRelay({
      authorize: async () => {
        await sleep(100);
        return { ok: true };
      },
    });
    t.after(() => relay.close());
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.close());
    for (let i = 0; i < 1000; i++) c.send({ type: 'subscribe', data: `burst-${i}` });
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length >= 900, '900 refusals', 10_000);
    await sleep(300);
    assert.equal(c.msgs.filter((m) => m.type === 'error').length, 900);
    assert.ok(c.msgs.filter((m) => m.type === 'error').every((m) => m.code === CloseCode.NoCapacity));
    assert.equal(goWsPeers(relay)[0]!.subscriptions.length, 100);
    assert.equal([...relay.channels.keys()].filter((n) => n.startsWith('burst-')).length, 100);
    // An unsubscribe while the authorizer is still deciding wins; a later subscribe wins again.
    const d = await hubClient(`${relay.url}/ws`);
    t.after(() => d.ws.close());
    d.send({ type: 'subscribe', data: 'undecided' });
    d.send({ type: 'unsubscribe', data: 'undecided' });
    d.send({ type: 'subscribe', data: 'decided' });
    d.send({ type: 'unsubscribe', data: 'decided' });
    d.send({ type: 'subscribe', data: 'decided' });
    await sleep(300);
    const dPeer = goWsPeers(relay).find((p) => !p.subscriptions.includes('burst-0'))!;
    assert.deepEqual(dPeer.subscriptions, ['decided']);
    assert.equal(relay.channels.has('undecided'), false);
  });

  it('a client that stops reading while flooding pings is closed with 4413, not buffered without bound', async (t) => {
    const relay = await startTestRelay({ logReceiverMaxBytes: 1024 * 1024, maxFramesPerSecond: 10_000_000 });
    t.after(() => relay.close());
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.terminate());
    c.pause();
    const ping = JSON.stringify({ type: 'ping' });
    const closedAtRelay = () => goWsPeers(relay).every((p) => p.closed);
    for (let i = 0; i < 60 && !closedAtRelay(); i++) {
      for (let j = 0; j < 10_000; j++) c.ws.send(ping);
      await sleep(20);
    }
    assert.ok(closedAtRelay(), 'the relay gave up on the client');
    const buffered = goWsPeers(relay)[0]?.conn.bufferedAmount ?? 0;
    assert.ok(buffered < 4 * 1024 * 1024, `relay buffered ${buffered} bytes`);
    c.resume();
    await c.until(() => c.closeCode !== undefined, 'close');
    assert.equal(c.closeCode, CloseCode.TooSlow);
    assert.match(c.closeReason, /slow/i);
    await assertRelayServes(relay, 'process:after-flood');
  });

  it('a client that stops reading while a followed channel streams is closed with 4413; a reading client on the same channel gets every line', async (t) => {
    const relay = await startTestRelay({ logReceiverMaxBytes: 1024 * 1024, maxFramesPerSecond: 10_000_000 });
    t.after(() => relay.close());
    const slow = await hubClient(`${relay.url}/ws`);
    t.after(() => slow.ws.terminate());
    const fast = await hubClient(`${relay.url}/ws`);
    t.after(() => fast.ws.close());
    for (const c of [slow, fast]) c.send({ type: 'subscribe', data: 'process:flood' });
    await slow.until(() => slow.msgs.some((m) => m.channel === 'process:flood'), 'slow subscribed');
    await fast.until(() => fast.msgs.some((m) => m.channel === 'process:flood'), 'fast subscribed');
    const [slowPeer] = goWsPeers(relay).filter((p) => p.subscriptions.length === 1);
    slow.pause();
    const src = await TestPeer.connect(`${relay.url}/source/process:flood`);
    t.after(() => src.close());
    const pad = 'y'.repeat(1000);
    const lines = 10_000;
    for (let i = 0; i < lines; i++) {
      src.send(record('stdout', `${i} ${pad}\n`));
      if (i % 100 === 99) {
        slow.send({ type: 'ping' });
        await sleep(2);
      }
    }
    await fast.until(() => fast.msgs.filter((m) => m.type === 'process_output').length === lines, 'fast gets every line', 20_000);
    await slow.until(() => slowPeer!.closed, 'the relay closes the slow /ws connection', 10_000).catch(() => {});
    assert.ok(slowPeer!.closed, 'the whole /ws connection is closed, not only its subscription');
    slow.resume();
    await slow.until(() => slow.closeCode !== undefined, 'close');
    assert.equal(slow.closeCode, CloseCode.TooSlow);
  });

  it('a message nested deeper than 64 or larger than 64 KiB gets an error reply and is not parsed; the connection lives on', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.close());
    // JSON.parse takes this; echoing `type` back with JSON.stringify used to overflow the stack
    // in an un-awaited promise: an unhandled rejection, which ends a Node 20 process.
    c.send(`{"type":${deepArray(10_000)}}`);
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 1, 'error for deep message');
    c.send(`{"type":"ping","x":${deepArray(64)}}`);
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 2, 'error for 65 levels');
    c.send(`{"type":"ping","x":${deepArray(63)}}`);
    await c.until(() => c.msgs.some((m) => m.type === 'pong'), '64 levels are fine');
    c.send({ type: 'ping', pad: 'p'.repeat(70 * 1024) });
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 3, 'error for a 70 KiB message');
    assert.equal(c.msgs.filter((m) => m.type === 'pong').length, 1, 'the big ping was not answered');
    assert.ok(c.msgs.every((m) => JSON.stringify(m).length < 400), 'replies are short');
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    await assertRelayServes(relay, 'process:after-deep');
  });

  it('echoed user input is capped: long channel names and types come back at most ~64 characters', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const c = await hubClient(`${relay.url}/ws`);
    t.after(() => c.ws.close());
    c.send({ type: 'subscribe', data: '!'.repeat(30_000) });
    c.send({ type: 'x'.repeat(30_000) });
    c.send({ type: { nested: 'z'.repeat(30_000) } });
    await c.until(() => c.msgs.filter((m) => m.type === 'error').length === 3, 'three errors');
    for (const m of c.msgs) assert.ok(JSON.stringify(m).length < 300, `short reply: ${JSON.stringify(m).length} chars`);
  });
});
