// The examples, as a user runs them: `npm run demo` starts a relay, four sources and the
// aggregator; the dashboard page shows them all and its buttons act on the sources.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../support/browser.js';

describe('composition demo', () => {
  it('npm run demo serves a live dashboard of every layer', { timeout: 90_000 }, async (t) => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const demo = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { cwd: root, env: { ...process.env, SLUICE_PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => {
      demo.kill('SIGTERM');
    });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start: ${out}`)), 30_000);
      demo.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /Dashboard: (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await browser.newPage();
    await page.goto(url);
    const text = (sel: string) => page.textContent(sel).then((s) => s ?? '');
    // Every card goes live; the composed metrics equal counter.count + stats.total.
    await page.waitForFunction(() => document.querySelectorAll('.status.live').length === 5, undefined, { timeout: 30_000 });
    // Inline, with no named helper inside (tsx would inject a `__name` helper the page does not
    // have), and not a string: the dashboard's CSP has no 'unsafe-eval'.
    await page.waitForFunction(
      () =>
        Number(document.querySelector('#metrics [data-f="events"]')?.textContent) ===
        Number(document.querySelector('#counter [data-f="count"]')?.textContent) + Number(document.querySelector('#stats [data-f="total"]')?.textContent),
      undefined,
      { timeout: 15_000 },
    );
    // An action from the page reaches the mood source and comes back as state.
    await page.click('#mood button:has-text("grumpy")');
    await page.waitForFunction(() => document.querySelector('#mood [data-f="mood"]')?.textContent === 'grumpy', undefined, { timeout: 10_000 });
    await page.click('#counter button:has-text("reset")');
    await page.waitForFunction(() => Number(document.querySelector('#counter [data-f="count"]')?.textContent) <= 1, undefined, { timeout: 10_000 });
    assert.match(await text('#metrics [data-f="status"]'), /nominal|degraded/);
  });
});
