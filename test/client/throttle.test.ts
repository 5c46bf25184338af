import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { source } from '../../src/client/index.js';
import { TestPeer, sleep, startTestRelay } from '../support/relay-harness.js';

describe('source throttle', () => {
  it('sends at most one diff per throttle window, merging the changes in between', async (t) => {
    const relay = await startTestRelay();
    const src = source(`${relay.url}/source/thr`, { initial: { n: 0, other: 'a' }, throttleMs: 200 });
    t.after(async () => {
      await src.close();
      await relay.close();
    });
    await src.when.online();
    const rcv = await TestPeer.connect(`${relay.url}/stream/thr`);
    await rcv.until(() => rcv.state.n === 0);
    const started = Date.now();
    for (let i = 1; i <= 50; i++) {
      src.state.n = i;
      if (i === 25) src.state.other = 'b';
      await sleep(10); // 50 changes over ~500 ms, one per tick
    }
    await rcv.until(() => rcv.state.n === 50, 3000);
    const diffs = rcv.messages('signal-diff');
    const elapsed = Date.now() - started;
    assert.ok(diffs.length <= Math.ceil(elapsed / 200) + 1, `${diffs.length} diffs in ${elapsed} ms with a 200 ms throttle`);
    assert.ok(diffs.length >= 2, 'changes keep flowing');
    assert.deepEqual(rcv.state, { n: 50, other: 'b' }, 'nothing is lost: later changes merge into the next diff');
  });
});
