// useStream under React <StrictMode> (development build) in a real browser: StrictMode mounts,
// unmounts and remounts effects; the hook must still show the state, hold exactly one receiver at
// the relay, and release it on unmount.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { source } from '../../src/client/index.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

const APP = `
import { StrictMode, createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { useStream } from './src/client/react.ts';
import { subscribe } from './src/client/stream-view.ts';

const relay = 'ws://' + location.host;
const shared = subscribe(relay + '/stream/rs');
function ByUrl() {
  const s = useStream(relay + '/stream/rs', { select: ['count', 'label'] });
  return h('span', { id: 'url' }, String(s.count ?? '…') + ' ' + String(s.label ?? '…'));
}
function ByView() {
  const count = useStream(shared, (s) => s.count);
  return h('span', { id: 'view' }, String(count ?? '…'));
}
const root = createRoot(document.getElementById('root'));
root.render(h(StrictMode, null, h(ByUrl), h(ByView)));
window.unmountApp = () => { root.unmount(); shared.close(); };
`;

describe('react binding in a browser', () => {
  it('useStream(url) and useStream(view, selector) work under <StrictMode>, one receiver each, released on unmount', { timeout: 60_000, skip: !existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium') && 'no Chromium' }, async (t) => {
    const bundle = await build({
      stdin: { contents: APP, resolveDir: root, loader: 'tsx', sourcefile: 'app.tsx' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      external: ['ws'],
      define: { 'process.env.NODE_ENV': '"development"' },
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0]!.text;
    // Typed by what it uses, so it fits the relay's HTTP route type whichever transport types it.
    const route = (req: { url?: string | undefined }, res: { writeHead(status: number, headers?: Record<string, string>): unknown; end(body?: string): unknown }) => {
      if (req.url === '/app.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(js);
        return true;
      }
      if (req.url === '/app.html') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><div id="root"></div><script type="module" src="/app.js"></script>');
        return true;
      }
      return false;
    };
    const relay = await startTestRelay({ httpRoutes: [route] });
    const src = source(`${relay.url}/source/rs`, { initial: { count: 5, label: 'a', hidden: 1 } });
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close();
      await src.close();
      await relay.close();
    });
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${relay.url.replace('ws:', 'http:')}/app.html`);
    await tab.waitForFunction(() => document.getElementById('url')?.textContent === '5 a', undefined, { timeout: 10_000 });
    await tab.waitForFunction(() => document.getElementById('view')?.textContent === '5', undefined, { timeout: 10_000 });
    const receivers = () => relay.channels.get('rs')?.receivers.size ?? 0;
    await until(() => receivers() === 2, 5000, 'two receivers: the shared view and the hook’s own');
    src.state.count = 6;
    src.state.label = 'b';
    await tab.waitForFunction(() => document.getElementById('url')?.textContent === '6 b', undefined, { timeout: 10_000 });
    await tab.waitForFunction(() => document.getElementById('view')?.textContent === '6', undefined, { timeout: 10_000 });
    assert.equal(receivers(), 2, 'StrictMode did not leave a second connection open');
    await tab.evaluate(() => (window as unknown as { unmountApp: () => void }).unmountApp());
    await until(() => receivers() === 0, 5000, 'released on unmount');
    assert.deepEqual(errors, []);
  });
});
