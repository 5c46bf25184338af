// The relay's web/ pages under their Content-Security-Policy (real headless Chromium): each page
// starts without a CSP violation or page error, and the pixels source page streams (its inline
// module, /sluice.js and its encoder worker are allowed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { relayHttpRoutes } from '../../src/relay/static-routes.js';
import { launchChromium } from '../support/browser.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

describe('web pages under their Content-Security-Policy', () => {
  it('index, pixels source and process pages run without CSP violations (the dashboard: dashboard-demo.test.ts)', { timeout: 60_000 }, async (t) => {
    const relay = await startTestRelay({ httpRoutes: relayHttpRoutes() });
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close();
      await relay.close();
    });
    const http = relay.url.replace('ws:', 'http:');
    const open = async (path: string) => {
      const page = await browser.newPage();
      t.after(() => page.close());
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
      });
      await page.exposeFunction('__cspViolation', (v: string) => problems.push(`violation: ${v}`));
      await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => (window as unknown as { __cspViolation(v: string): void }).__cspViolation(`${e.violatedDirective} ${e.blockedURI}`)));
      const res = await page.goto(`${http}${path}`);
      assert.equal(res?.status(), 200, path);
      assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'none'/, path);
      return { page, problems };
    };
    const index = await open('/');
    assert.ok(await index.page.$('a[href="/console"]'));

    // The pixels source publishes once a receiver joins: its inline module, /sluice.js and the encoder worker ran.
    const px = await open('/pixels-source.html?ch=csp-pixels');
    const rcv = await TestPeer.connect(`${relay.url}/stream/csp-pixels`);
    t.after(() => rcv.close());
    await until(() => relay.channels.get('csp-pixels')?.cache.hasPicture === true, 20_000, 'a picture from the pixels source page');

    const proc = await open('/process/csp-1');
    await proc.page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '') !== '', undefined, { timeout: 10_000 });

    for (const [name, p] of [['/', index], ['/pixels-source.html', px], ['/process/csp-1', proc]] as const) assert.deepEqual(p.problems, [], name);
  });
});
