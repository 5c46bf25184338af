import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { encodeMessage } from '../../src/protocol/message.js';
import { TestPeer } from '../support/relay-harness.js';
import { Cluster, eventually } from './cluster-harness.js';
import type { Node } from './cluster-harness.js';

const rec = (seq: number) => encodeMessage({ kind: 'log-record', offset: seq, time: 1, stream: 'stdout', data: new TextEncoder().encode(`r${seq}`) });
const records = (p: TestPeer) => p.messages('log-record').map((m) => (m.kind === 'log-record' ? `${m.offset}:${new TextDecoder().decode(m.data)}` : ''));
const acked = (p: TestPeer, seq: number) => p.messages('log-ack').some((m) => m.kind === 'log-ack' && m.logAcked >= seq);
const offline = (p: TestPeer) => p.messages('source-status').slice(-1).some((m) => m.kind === 'source-status' && !m.status.online);

describe('cluster: log channels in Redis Streams', () => {
  const cluster = new Cluster();
  let a: Node;
  let b: Node;
  let c: Node;
  before(async () => {
    const opts = ['--log-retain-records', '40', '--log-retain-bytes', '4000'];
    [a, b, c] = await Promise.all([cluster.start(opts), cluster.start(opts), cluster.start(opts)]);
  });
  after(() => cluster.stop());

  it('resumes on another node with no gap and no duplicate; producer resends are stored once', async () => {
    const src = await TestPeer.connect(`${a.url}/source/lg?producer=p1`);
    for (let s = 1; s <= 20; s++) src.sendRaw(rec(s));
    await src.until(() => acked(src, 20), 10_000, 'ack 20 (stored in Redis)');
    const r1 = await TestPeer.connect(`${b.url}/stream/lg`);
    await r1.until(() => r1.messages('log-record').length === 20, 10_000, '20 records on B');
    assert.deepEqual(records(r1), Array.from({ length: 20 }, (_, i) => `${i}:r${i + 1}`));
    r1.close();
    // The producer reconnects on another node and resends from 15 (its acks were lost, say).
    const watcher = await TestPeer.connect(`${c.url}/stream/lg?resume=20`);
    src.close();
    await watcher.until(() => offline(watcher), 10_000, 'source offline');
    const src2 = await TestPeer.connect(`${b.url}/source/lg?producer=p1`);
    for (let s = 15; s <= 30; s++) src2.sendRaw(rec(s));
    await src2.until(() => acked(src2, 30), 10_000, 'ack 30');
    // A receiver that stopped at offset 19 resumes on node C.
    const r2 = await TestPeer.connect(`${c.url}/stream/lg?resume=20`);
    await r2.until(() => r2.messages('log-record').length === 10, 10_000, '10 more records');
    assert.deepEqual(records(r2), Array.from({ length: 10 }, (_, i) => `${20 + i}:r${21 + i}`));
    await watcher.until(() => watcher.messages('log-record').length === 10, 10_000, 'live watcher');
    assert.deepEqual(records(watcher), records(r2));
    for (const p of [src2, r2, watcher]) p.close();
  });

  it('retention by count holds in Redis: a joiner on another node gets the retained tail', async () => {
    const src = await TestPeer.connect(`${a.url}/source/ret?producer=q`);
    for (let s = 1; s <= 100; s++) src.sendRaw(rec(s));
    await src.until(() => acked(src, 100), 10_000, 'ack 100');
    const r = await TestPeer.connect(`${c.url}/stream/ret?resume=0`);
    await r.until(() => r.messages('log-record').length === 40, 10_000, '40 retained records');
    const t = r.messages('history-truncated')[0];
    assert.ok(t && t.kind === 'history-truncated' && t.firstAvailable === 60, 'told the history starts at 60');
    assert.deepEqual(records(r), Array.from({ length: 40 }, (_, i) => `${60 + i}:r${61 + i}`));
    src.close();
    r.close();
  });

  it('retention by bytes holds in Redis as on one relay: the same records are kept', async () => {
    const big = (seq: number) => encodeMessage({ kind: 'log-record', offset: seq, time: 1, stream: 'stdout', data: new TextEncoder().encode(`${String(seq).padStart(4, '0')}${'y'.repeat(296)}`) });
    const size = big(1).length;
    const kept = Math.floor(4000 / size);
    const src = await TestPeer.connect(`${b.url}/source/bytes?producer=z`);
    for (let s = 1; s <= 30; s++) src.sendRaw(big(s));
    await src.until(() => acked(src, 30), 10_000, 'ack 30');
    const r = await TestPeer.connect(`${a.url}/stream/bytes?resume=0`);
    await r.until(() => r.messages('log-record').length === kept, 10_000, `${kept} records of ${size} bytes`);
    const t = r.messages('history-truncated')[0];
    assert.ok(t && t.kind === 'history-truncated' && t.firstAvailable === 30 - kept, `history starts at ${30 - kept}`);
    src.close();
    r.close();
  });
});

describe('cluster: a channel lives in Redis as long as it would in one relay (retention by time)', () => {
  // Grace 400 ms for state channels, 1.5 s for channels with log records; a node's heartbeat
  // every 200 ms (a third of the lease).
  const cluster = new Cluster(undefined, 600);
  let a: Node;
  let b: Node;
  before(async () => {
    const opts = ['--grace-ms', '400', '--log-retain-ms', '1500'];
    [a, b] = await Promise.all([cluster.start(opts), cluster.start(opts)]);
  });
  after(() => cluster.stop());

  it('state channels expire a grace period after their source left, log channels after the log retention, none while anyone is connected', async () => {
    const redis = createClient({ url: cluster.redisUrl });
    redis.on('error', () => {});
    await redis.connect();
    const exists = async (ch: string) => (await redis.exists([`${cluster.prefix}:{${ch}}:meta`, `${cluster.prefix}:{${ch}}:state`, `${cluster.prefix}:{${ch}}:log`])) > 0;
    try {
      const st = await TestPeer.connect(`${a.url}/source/ttl-st`);
      st.send({ kind: 'signal-sync', state: { x: 1 } });
      const lg = await TestPeer.connect(`${a.url}/source/ttl-lg?producer=p`);
      for (let s = 1; s <= 3; s++) lg.sendRaw(rec(s));
      await lg.until(() => acked(lg, 3), 10_000, 'records stored');
      // A receiver of the log channel on B stays connected past the retention time.
      const reader = await TestPeer.connect(`${b.url}/stream/ttl-lg`);
      await reader.until(() => reader.messages('log-record').length === 3, 10_000, 'records on B');
      await eventually(async () => (await exists('ttl-st')) && (await exists('ttl-lg')), 10_000, 'both channels stored');
      const left = Date.now();
      st.close();
      lg.close();
      await reader.until(() => offline(reader), 10_000, 'the log source offline on B');
      // The state channel goes after its grace period (no one connected anywhere)…
      await eventually(async () => !(await exists('ttl-st')), 10_000, 'the state channel to expire');
      const stGone = Date.now() - left;
      assert.ok(stGone >= 400, `kept its grace period (${stGone} ms)`);
      // …the log channel is still there (log retention), and stays while its reader is connected.
      assert.ok(await exists('ttl-lg'), 'the log channel outlives the grace period');
      await new Promise((r) => setTimeout(r, Math.max(0, left + 2_200 - Date.now())));
      assert.ok(await exists('ttl-lg'), 'kept past its retention while a receiver is connected');
      reader.close();
      await eventually(async () => !(await exists('ttl-lg')), 10_000, 'the log channel to expire once no one is connected');
    } finally {
      redis.destroy();
    }
  });
});
