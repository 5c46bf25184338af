// /process/{id}: a live terminal view with ANSI colours, the status and the exit code.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { streamProcess } from '../../src/process/stream-process.js';
import { relayHttpRoutes } from '../../src/relay/static-routes.js';
import { launchChromium } from '../support/browser.js';
import { startTestRelay } from '../support/relay-harness.js';

describe('process web view', () => {
  it('shows the lines (colours rendered) and the final status', { timeout: 60_000 }, async (t) => {
    const relay = await startTestRelay({ httpRoutes: relayHttpRoutes() });
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close();
      await relay.close();
    });
    const page = await browser.newPage();
    await page.goto(`${relay.url.replace('ws:', 'http:')}/process/web-1`);
    // The command waits until the test has seen it running (a fixed sleep races a loaded machine).
    const go = join(mkdtempSync(join(tmpdir(), 'sluice-pv-')), 'go');
    const p = streamProcess(relay.url, 'web-1', 'sh', ['-c', `echo "hello <world>"; printf "\\033[31mred alert\\033[0m\\n"; echo oops >&2; while [ ! -f ${go} ]; do sleep 0.05; done; exit 4`]);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'running', undefined, { timeout: 20_000 });
    writeFileSync(go, '');
    await p.done;
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'exited', undefined, { timeout: 10_000 });
    const text = await page.textContent('#out');
    assert.match(text ?? '', /hello <world>\nred alert\noops\n/);
    assert.equal(await page.textContent('#exit'), 'exit code 4');
    const red = await page.$eval('#out span[style*="color"]', (el) => (el as HTMLElement).style.color);
    assert.equal(red, 'rgb(205, 49, 49)');
    assert.equal(await page.$eval('#status', (el) => el.className), 'exited-fail');
    if (process.env.SLUICE_SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SLUICE_SCREENSHOT_DIR}/process-view.png` });
  });
});
