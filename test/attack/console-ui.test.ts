// The console page against hostile data (real headless Chromium): channel names, state keys and
// values, schemas, log lines and process fields made of markup must stay text; the hash route
// must not inject; and a long filter must not break the live feed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { encodeFrame } from '../../src/protocol/header.js';
import { launchChromium } from '../support/browser.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';

const XSS = '<marquee id=xss>x</marquee><img id=xss2 src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

/** Markup the hostile data would have created if it reached the DOM as HTML. */
function injected(): string[] {
  const found: string[] = [];
  if (document.getElementById('xss')) found.push('marquee');
  if (document.getElementById('xss2')) found.push('img');
  if ((window as unknown as { __pwned?: unknown }).__pwned !== undefined) found.push('script ran');
  for (const s of Array.from(document.scripts)) if (!s.src.endsWith('/console/app.js')) found.push(`script ${s.outerHTML.slice(0, 60)}`);
  for (const a of Array.from(document.querySelectorAll('a'))) if (/^\s*javascript:/i.test(a.getAttribute('href') ?? '')) found.push(`href ${a.getAttribute('href')}`);
  return found;
}

describe('attack: console page vs hostile data', () => {
  let relay: TestRelay;
  let browser: Browser;
  let http: string;
  const peers: TestPeer[] = [];
  before(async () => {
    relay = await startTestRelay();
    http = relay.url.replace('ws:', 'http:');
    browser = await launchChromium();
  });
  after(async () => {
    for (const p of peers) p.ws.terminate();
    await browser.close();
    await relay.close();
  });

  async function hostileSource(ch: string): Promise<TestPeer> {
    const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
    peers.push(src);
    await src.next('welcome');
    return src;
  }

  async function open(path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      errors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(`${http}${path}`);
    return { page, errors };
  }

  it('names, state keys and values, schema, log lines and process fields stay text', { timeout: 60_000 }, async (t) => {
    // A state with markup in keys and values, __proto__, javascript: URLs and deep nesting.
    const st = await hostileSource('evil.state');
    let deep: unknown = XSS;
    for (let i = 0; i < 50; i++) deep = { [XSS.slice(0, 20) + i]: deep };
    const json = `{${JSON.stringify(XSS)}:1,"__proto__":{"innerHTML":${JSON.stringify(XSS)}},"href":"javascript:window.__pwned=3","deep":${JSON.stringify(deep)},"list":[${JSON.stringify(XSS)}]}`;
    st.sendRaw(encodeFrame({ type: FrameType.SignalSync, seq: 1 }, new TextEncoder().encode(json)));
    st.send({ kind: 'schema-announce', schema: { signals: [XSS], mode: XSS } as never });
    // A log channel with markup in its lines.
    const lg = await hostileSource('evil.log');
    for (let i = 0; i < 5; i++) lg.send({ kind: 'log-record', stream: 'stdout', offset: i + 1, time: Date.now(), data: new TextEncoder().encode(`${XSS} line ${i}`) } as never);
    // A "process" channel whose status fields are markup.
    const pr = await hostileSource('process:evil');
    pr.send({ kind: 'signal-sync', state: { status: XSS, exitCode: XSS, pid: XSS } });
    // A channel name no route admits, created another way: still rendered as text.
    assert.ok(relay.table.admit(XSS, 'receiver').ok);

    const { page, errors } = await open('/console');
    t.after(() => page.close());
    await page.waitForFunction(() => document.querySelectorAll('#channels tbody tr').length >= 4, undefined, { timeout: 15_000 });
    assert.deepEqual(await page.evaluate(injected), [], 'channels table');
    // The hostile name shows as text in the table.
    assert.ok(await page.evaluate((x) => Array.from(document.querySelectorAll('#channels tbody a')).some((a) => a.textContent === x), XSS));
    for (const ch of ['evil.state', 'evil.log', 'process:evil', XSS]) {
      await page.evaluate((c) => (location.hash = '#/channels/' + encodeURIComponent(c)), ch);
      await page.waitForFunction((c) => document.getElementById('ch-name')?.textContent === c && !document.getElementById('ch-tiles')!.hidden && document.getElementById('ch-tiles')!.childElementCount > 0, ch, { timeout: 15_000 });
      await page.waitForTimeout(300);
      // Open every folded JSON node so nested values are rendered too.
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => ((d as HTMLDetailsElement).open = true)));
      assert.deepEqual(await page.evaluate(injected), [], `channel view of ${ch}`);
      if (ch === 'evil.state') {
        // The hostile state did reach the inspector, as text.
        await page.waitForFunction(() => document.querySelector('#inspector')!.textContent!.includes('javascript:window.__pwned=3'), undefined, { timeout: 10_000 });
        assert.ok(await page.evaluate((x) => document.querySelector('#inspector')!.textContent!.includes(x), XSS), 'the markup key shows as text');
      }
      if (ch === 'evil.log') await page.waitForFunction((x) => document.getElementById('log')!.textContent!.includes(x + ' line 4'), XSS, { timeout: 10_000 });
    }
    // The hash itself carrying markup (a link someone sends an operator).
    await page.evaluate((x) => (location.hash = '#/channels/' + x), XSS);
    await page.waitForTimeout(500);
    assert.deepEqual(await page.evaluate(injected), [], 'hash route with raw markup');
    assert.deepEqual(errors, []);
  });

  // FINDING (low): the console sends its filter to the feed as {"q": …}; the relay closes a feed
  // whose q is over 256 characters (4400), the page reconnects and sends the same q again: a
  // long filter (a pasted line) turns the live table into a reconnect loop with stale data.
  it('a filter longer than 256 characters does not break the live feed', { timeout: 30_000 }, async (t) => {
    const { page, errors } = await open('/console');
    t.after(() => page.close());
    await page.waitForFunction(() => document.querySelector('#live b')?.textContent === 'live', undefined, { timeout: 15_000 });
    await page.fill('#filter', 'a'.repeat(300));
    const states = new Set<string>();
    for (let i = 0; i < 25; i++) {
      await page.waitForTimeout(100);
      states.add((await page.evaluate(() => document.querySelector('#live b')?.textContent ?? '')) || '?');
    }
    assert.deepEqual([...states], ['live'], `the feed status went through ${[...states].join(', ')}`);
    assert.deepEqual(errors, []);
  });
});
