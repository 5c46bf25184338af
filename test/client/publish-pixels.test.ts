// publishPixels before the source is online (and while it is reconnecting) must not lose the
// picture: the newest frame goes out as a keyframe once the relay welcomes the source.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { source, subscribe } from '../../src/client/index.js';
import type { PixelFrame } from '../../src/client/index.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const fast = { backoff: { initialMs: 20, maxMs: 100 } };

function picture(w: number, h: number, seed: number): Uint8Array {
  const img = new Uint8Array(w * h * 4);
  for (let i = 0; i < img.length; i++) img[i] = (i * 7 + seed * 13) & 0xff;
  return img;
}

describe('client: pixels published before the source is online', () => {
  it('the newest picture published while offline is sent once the source is live', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/early`, { mode: 'pixel', ...fast });
    t.after(() => src.close());
    // Not online yet: both calls happen before the socket even opened.
    assert.equal(src.publishPixels(8, 4, picture(8, 4, 1)), false);
    const newest = picture(8, 4, 2);
    assert.equal(src.publishPixels(8, 4, newest), false);
    newest[0] = 99; // the caller may reuse its buffer: what was published is kept as it was
    await src.when.online();
    const view = subscribe(`${relay.url}/stream/early`, fast);
    t.after(() => view.close());
    let last: PixelFrame | undefined;
    view.on('frame', (f) => (last = { ...f, rgba: f.rgba.slice() }));
    await until(() => last !== undefined, 5000, 'the early picture');
    assert.equal(last!.width, 8);
    assert.equal(last!.height, 4);
    assert.deepEqual(last!.rgba, picture(8, 4, 2));
  });

  it('a picture published while reconnecting reaches the restarted relay', async (t) => {
    let relay = await startTestRelay();
    const port = relay.port;
    t.after(() => relay.close());
    const src = source(`${relay.url}/source/again`, { mode: 'pixel', ...fast });
    t.after(() => src.close());
    await src.when.online();
    assert.equal(src.publishPixels(4, 4, picture(4, 4, 3)), true);
    await relay.close();
    await until(() => src.connectionState === 'reconnecting', 5000, 'reconnecting');
    assert.equal(src.publishPixels(4, 4, picture(4, 4, 4)), false);
    relay = await startTestRelay({ port });
    await until(() => src.connectionState === 'live', 10_000, 'live again');
    const view = subscribe(`${relay.url}/stream/again`, fast);
    t.after(() => view.close());
    let last: Uint8Array | undefined;
    view.on('frame', (f) => (last = f.rgba.slice()));
    await until(() => last !== undefined, 5000, 'the picture after the restart');
    assert.deepEqual(last, picture(4, 4, 4));
  });
});
