import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { useStream } from '../../src/client/react.js';
import { source, subscribe } from '../../src/client/index.js';
import { startTestRelay } from '../support/relay-harness.js';

describe('react binding', () => {
  it('useStream renders the current state of a view', async (t) => {
    const relay = await startTestRelay();
    const src = source(`${relay.url}/source/r`, { initial: { count: 7 } });
    const view = subscribe<{ count: number }>(`${relay.url}/stream/r`);
    t.after(async () => {
      void src.close();
      void view.close();
      await relay.close();
    });
    await view.when.ready();
    function Counter() {
      const { count } = useStream(view);
      return createElement('span', null, `count=${count}`);
    }
    assert.match(renderToString(createElement(Counter)), /count=7/);
  });
});
