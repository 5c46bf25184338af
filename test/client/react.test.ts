import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { useStream } from '../../src/client/react.js';
import { source, subscribe } from '../../src/client/index.js';
import { startTestRelay } from '../support/relay-harness.js';

describe('react binding', () => {
  it('useStream renders the current state of a view, a selection of it, and a source', async (t) => {
    const relay = await startTestRelay();
    const src = source(`${relay.url}/source/r`, { initial: { count: 7, label: 'seven' } });
    const view = subscribe<{ count: number; label: string }>(`${relay.url}/stream/r`);
    t.after(async () => {
      await src.close();
      await view.close();
      await relay.close();
    });
    await view.when.ready();
    function Counter() {
      const { count } = useStream(view);
      const label = useStream(view, (s) => s.label);
      const local = useStream(src, (s) => s.count * 2);
      return createElement('span', null, `count=${count} label=${label} local=${local}`);
    }
    assert.match(renderToString(createElement(Counter)), /count=7 label=seven local=14/);
  });
});
