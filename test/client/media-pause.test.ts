// StreamView.pauseMedia against a real relay: the setting is per connection at the relay, so the
// view says it again in the Hello of every new connection — a reconnect never leaves the relay
// pausing a view that wants media, nor sending media to one that paused it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscribe } from '../../src/client/index.js';
import type { PixelFrame } from '../../src/client/index.js';
import { encodeDelta } from '../../src/protocol/delta-codec.js';
import type { ReceiverPeer } from '../../src/relay/receiver-peer.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const W = 8;
const H = 4;

function receiver(relay: TestRelay, ch: string): ReceiverPeer | undefined {
  const rs = [...(relay.channels.get(ch)?.receivers.values() ?? [])];
  return rs.length === 1 && !rs[0]!.pending ? rs[0] : undefined;
}

async function world(t: { after(fn: () => unknown): void }, ch: string) {
  const relay = await startTestRelay();
  const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
  await src.next('welcome');
  let picture: Uint8Array = new Uint8Array(W * H * 4).fill(1);
  let n = 0;
  src.send({ kind: 'keyframe', width: W, height: H, data: picture });
  const change = () => {
    const next = picture.slice();
    const i = n++ % next.length;
    next[i] = next[i]! ^ 0x5a;
    src.send({ kind: 'delta-pixels', width: W, height: H, data: encodeDelta(picture, next).slice() });
    picture = next;
  };
  const view = subscribe(`${relay.url}/stream/${ch}`, { backoff: { initialMs: 20, maxMs: 50 } });
  let frames = 0;
  let last: PixelFrame | undefined;
  view.on('frame', (f) => {
    frames++;
    last = f;
  });
  t.after(async () => {
    await view.close();
    src.close();
    await relay.close();
  });
  await until(() => last !== undefined, 5000, 'the first picture');
  return {
    relay,
    view,
    change,
    picture: () => picture,
    frames: () => frames,
    shown: () => last?.rgba,
    receiver: () => receiver(relay, ch),
  };
}

describe('StreamView.pauseMedia', () => {
  it('pauses at the relay, survives a reconnect, and resumes with the current picture', async (t) => {
    const w = await world(t, 'vp-reconnect');
    w.view.pauseMedia(true);
    assert.equal(w.view.mediaPaused, true);
    await until(() => w.receiver()?.mediaPaused === true, 5000, 'paused at the relay');
    const before = w.frames();
    w.change();
    w.change();
    // Dropped from the relay side: the view reconnects, paused (its new Hello says so).
    const old = w.receiver()!;
    old.conn.terminate();
    await until(() => w.receiver() !== undefined && w.receiver() !== old && w.view.connectionState === 'live', 5000, 'reconnected');
    assert.equal(w.receiver()!.mediaPaused, true);
    w.change();
    // State and status still come while paused; pictures do not.
    await w.view.when.online();
    assert.equal(w.frames(), before);
    w.view.pauseMedia(false);
    await until(() => w.shown() !== undefined && Buffer.compare(w.shown()!, w.picture()) === 0, 5000, 'the current picture after resume');
    w.change();
    await until(() => Buffer.compare(w.shown()!, w.picture()) === 0, 5000, 'live deltas after resume');
  });

  it('resumed while disconnected: the next connection has media on', async (t) => {
    const w = await world(t, 'vp-resume-offline');
    w.view.pauseMedia(true);
    await until(() => w.receiver()?.mediaPaused === true, 5000, 'paused at the relay');
    w.change();
    const old = w.receiver()!;
    old.conn.terminate();
    // Resumed as the connection dies: whether this Hello is lost with it or never sent, the next
    // connection's first frame says media is on.
    w.view.pauseMedia(false);
    await until(() => w.receiver() !== undefined && w.receiver() !== old && w.view.connectionState === 'live', 5000, 'reconnected');
    assert.equal(w.receiver()!.mediaPaused, false);
    await until(() => Buffer.compare(w.shown()!, w.picture()) === 0, 5000, 'the current picture');
    w.change();
    await until(() => Buffer.compare(w.shown()!, w.picture()) === 0, 5000, 'live deltas');
  });
});
