// Attacks on the go-ws endpoint at /ws, driven against a real relay with raw `ws` clients.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Message } from '../../src/protocol/message.js';
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

});
