// A plain HTML page (no build step) imports /sluice.js from the relay, shows a counter published
// from Node, and a click sends an action that the Node source applies and echoes back as state.
import assert from 'node:assert/strict';
import type { HttpRequest, HttpResponse } from '../../src/relay/transport.js';
import { describe, it } from 'node:test';
import { source } from '../../src/client/index.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';

const PAGE = `<!doctype html>
<html><body>
<p>Count: <span id="count">…</span> <span id="status">connecting</span></p>
<button id="inc">+1</button>
<script type="module">
  import { subscribe } from '/sluice.js';
  const view = subscribe('ws://' + location.host + '/stream/counter');
  view.subscribe(() => { document.getElementById('count').textContent = String(view.get().count); });
  view.on('status', () => { document.getElementById('status').textContent = view.connected ? 'live' : 'offline'; });
  document.getElementById('inc').onclick = () => view.send({ type: 'inc' });
</script>
</body></html>`;

describe('browser', () => {
  it('a plain page imports /sluice.js, shows a Node-published counter, and a click round-trips', { timeout: 60_000 }, async (t) => {
    const page = (req: HttpRequest, res: HttpResponse) => {
      if (req.url !== '/counter.html') return false;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
      return true;
    };
    const relay = await startTestRelay({ httpRoutes: [page] });
    const src = source(`${relay.url}/source/counter`, { initial: { count: 5 } });
    src.on('action', ({ action }) => {
      if ((action as { type?: string }).type === 'inc') src.state.count++;
    });
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close();
      void src.close();
      await relay.close();
    });
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${relay.url.replace('ws:', 'http:')}/counter.html`);
    await tab.waitForFunction(() => document.getElementById('count')?.textContent === '5', undefined, { timeout: 10_000 });
    await tab.click('#inc');
    await tab.waitForFunction(() => document.getElementById('count')?.textContent === '6', undefined, { timeout: 10_000 });
    assert.equal(src.get().count, 6);
    await tab.click('#inc');
    await tab.click('#inc');
    await tab.waitForFunction(() => document.getElementById('count')?.textContent === '8', undefined, { timeout: 10_000 });
    src.state.count = 100;
    await tab.waitForFunction(() => document.getElementById('count')?.textContent === '100', undefined, { timeout: 10_000 });
    assert.equal(await tab.textContent('#status'), 'live');
    assert.deepEqual(errors, []);
  });
});
