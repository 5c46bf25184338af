// The operations console in real headless Chromium: every channel listed live, receivers joining
// and leaving, the state inspector following the source, a stalled receiver shown as behind,
// hostile names and values rendered as text, and the admin token under --auth jwt.
//
// Screenshots go to a temp dir (or SLUICE_SCREENSHOT_DIR); with SLUICE_DOCS_SCREENSHOTS=1 the
// channels table and channel view are also written to docs/img/ for docs/relay.md.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { source } from '../../src/client/index.js';
import { streamProcess } from '../../src/process/stream-process.js';
import type { Source } from '../../src/client/index.js';
import { launchChromium } from '../support/browser.js';
import { TestPeer, startTestRelay } from '../support/relay-harness.js';
import type { TestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const SHOTS = process.env.SLUICE_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'sluice-console-'));
const DOCS = process.env.SLUICE_DOCS_SCREENSHOTS === '1' ? new URL('../../docs/img/', import.meta.url).pathname : undefined;

const http = (relay: TestRelay) => relay.url.replace('ws:', 'http:');

function gradient(w: number, h: number, t: number): Uint8Array {
  const px = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      px[i] = (x * 4 + t * 8) & 255;
      px[i + 1] = (y * 5) & 255;
      px[i + 2] = 160 + ((x + y + t) & 63);
      px[i + 3] = 255;
    }
  return px;
}

/** Text of the receivers cell (first line) of channel `name` in the table. */
function receiversOf(page: Page, name: string): Promise<string | null> {
  return page.evaluate((n) => {
    const tr = Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).find((r) => r.dataset.name === n);
    return tr?.cells[2]?.firstChild?.textContent ?? null;
  }, name);
}

describe('operations console', () => {
  it('lists state, pixel and log channels live; receivers, inspector, behind, hostile text', { timeout: 120_000 }, async (t) => {
    const relay = await startTestRelay({ receiverHighWaterBytes: 64 * 1024 });
    const browser = await launchChromium();
    const sources: Source<Record<string, unknown>>[] = [];
    const peers: TestPeer[] = [];
    t.after(async () => {
      for (const p of peers) p.ws.terminate();
      for (const s of sources) await s.close();
      await browser.close();
      await relay.close();
    });
    const src = (name: string, initial: Record<string, unknown> = {}) => {
      const s = source<Record<string, unknown>>(`${relay.url}/source/${name}`, { initial });
      sources.push(s);
      return s;
    };

    const game = src('game.lobby-1', { round: 3, phase: 'playing', players: { ada: { score: 12, x: 0.42 }, bob: { score: 9, x: 0.77 } }, motd: '<img src=x onerror="window.__pwned=1">' });
    const camera = src('camera.front');
    const build = src('ci.build-42');
    const sensors = src('sensors.hall', { temperature: 21.5, humidity: 0.41, door: 'closed' });
    const radio = src('radio.main');
    await Promise.all([game.when.online(), camera.when.online(), build.when.online(), sensors.when.online(), radio.when.online()]);
    const job = streamProcess(relay.url, 'nightly-7', 'sh', ['-c', 'echo "backup started"; echo "3 files skipped" >&2; exit 3']);
    await job.done.catch(() => {});
    let frame = 0;
    camera.publishPixels(96, 64, gradient(96, 64, frame++));
    for (let i = 1; i <= 12; i++) build.log(i % 5 === 0 ? 'stderr' : 'stdout', i % 5 === 0 ? `warning: step ${i} took longer than expected` : `[${i}/12] compiling module-${i}.ts`);

    const page = await browser.newPage({ viewport: { width: 1360, height: 760 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    const res = await page.goto(`${http(relay)}/console`);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'self'/);

    // All channels are listed.
    await page.waitForFunction(
      (names) => names.every((n) => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).some((r) => r.dataset.name === n)),
      ['game.lobby-1', 'camera.front', 'ci.build-42', 'process:nightly-7'],
      { timeout: 15_000 },
    );
    const kinds = await page.evaluate(() =>
      Object.fromEntries(Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).map((r) => [r.dataset.name, Array.from(r.querySelectorAll('.kind')).map((k) => k.textContent)])),
    );
    assert.deepEqual(kinds['game.lobby-1'], ['state']);
    assert.deepEqual(kinds['camera.front'], ['pixels']);
    assert.deepEqual(kinds['ci.build-42'], ['log']);
    assert.deepEqual(kinds['process:nightly-7'], ['state', 'log']);


    // Receivers join and leave.
    const r1 = await TestPeer.connect(`${relay.url}/stream/game.lobby-1`);
    const r2 = await TestPeer.connect(`${relay.url}/stream/game.lobby-1?select=players`);
    peers.push(r1, r2);
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).find((r) => r.dataset.name === 'game.lobby-1')?.cells[2]?.firstChild?.textContent === '2', undefined, { timeout: 10_000 });
    r2.close();
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).find((r) => r.dataset.name === 'game.lobby-1')?.cells[2]?.firstChild?.textContent === '1', undefined, { timeout: 10_000 });
    assert.equal(await receiversOf(page, 'game.lobby-1'), '1');
    const viewers = [];
    for (let i = 0; i < 3; i++) viewers.push(await TestPeer.connect(`${relay.url}/stream/camera.front`));
    for (let i = 0; i < 2; i++) viewers.push(await TestPeer.connect(`${relay.url}/stream/sensors.hall?select=temperature`));
    viewers.push(await TestPeer.connect(`${relay.url}/stream/radio.main`));
    peers.push(...viewers);
    // Some traffic for the rates.
    const traffic = setInterval(() => {
      camera.publishPixels(96, 64, gradient(96, 64, frame++));
      sensors.set({ temperature: Math.round((21 + Math.random()) * 10) / 10 });
      radio.publishFrame({ kind: 'audio-pcm', sampleRate: 48_000, channels: 1, samples: new Float32Array(480) });
    }, 100);
    t.after(() => clearInterval(traffic));
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).find((r) => r.dataset.name === 'camera.front')?.cells[4]?.textContent?.includes('/s'), undefined, { timeout: 10_000 });
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).find((r) => r.dataset.name === 'radio.main')?.querySelector('.kind')?.textContent === 'audio', undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'console-channels.png') });
    if (DOCS) await page.screenshot({ path: join(DOCS, 'console.png') });

    // A name no WebSocket route accepts, as another engine node or a future path could create it:
    // the console must show it as text.
    const hostile = '<script>window.__pwned=2</script>';
    const h = relay.table.admit(hostile, 'receiver');
    assert.ok(h.ok);
    await page.waitForFunction((n) => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).some((r) => r.dataset.name === n), hostile, { timeout: 10_000 });
    // The hostile name is text: the link shows it verbatim and nothing ran.
    const hostileText = await page.evaluate((n) => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).find((r) => r.dataset.name === n)?.querySelector('a')?.textContent, hostile);
    assert.equal(hostileText, hostile);
    assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('#channels script').count(), 0);

    // The channel view: the inspector follows the source within about a second.
    await page.goto(`${http(relay)}/console#/channels/${encodeURIComponent('game.lobby-1')}`);
    await page.waitForFunction(() => document.querySelector('#inspector tr[data-field="round"] td.val')?.textContent === '3', undefined, { timeout: 10_000 });
    const motd = await page.textContent('#inspector tr[data-field="motd"] td.val');
    assert.equal(motd, JSON.stringify('<img src=x onerror="window.__pwned=1">'));
    const before = Date.now();
    game.set({ round: 4 });
    await page.waitForFunction(() => document.querySelector('#inspector tr[data-field="round"] td.val')?.textContent === '4', undefined, { timeout: 5_000, polling: 20 });
    const latency = Date.now() - before;
    const highlighted = await page.evaluate(() => Array.from(document.querySelectorAll<HTMLTableRowElement>('#inspector tr.changed')).map((r) => r.dataset.field));
    assert.deepEqual(highlighted, ['round']);
    // A watched channel is pushed within 200 ms of a change; the margin is for a loaded machine.
    assert.ok(latency < 1000, `inspector updated ${latency} ms after the change`);
    const version = await page.textContent('#inspector tr[data-field="round"] td:nth-child(3)');
    assert.match(version ?? '', /^v\d+$/);

    // A receiver that stops reading while the source publishes big diffs shows as behind.
    const slow = await TestPeer.connect(`${relay.url}/stream/game.lobby-1`);
    peers.push(slow);
    await slow.next('signal-sync');
    slow.pauseReading();
    const blob = 'x'.repeat(200 * 1024);
    let n = 0;
    await until(
      () => {
        game.set({ blob: `${n++}:${blob}` });
        const c = relay.channels.get('game.lobby-1')!;
        return [...c.receivers.values()].some((r) => c.receiverLag(r).behind);
      },
      30_000,
      'a receiver behind',
    );
    game.set({ blob: 'large payload (200 KiB) — trimmed for the screenshot', round: 5 });
    await page.waitForFunction(() => document.querySelector('#receivers tr.behind .pill')?.textContent === 'behind', undefined, { timeout: 10_000 });
    const lag = await page.textContent('#receivers tr.behind td.lag');
    assert.match(lag ?? '', /\d+ versions|catching up/);
    await page.waitForFunction(() => document.querySelector('#inspector tr[data-field="round"] td.val')?.textContent === '5', undefined, { timeout: 5_000 });
    await page.screenshot({ path: join(SHOTS, 'console-channel.png'), fullPage: true });
    if (DOCS) await page.screenshot({ path: join(DOCS, 'console-channel.png'), fullPage: true });

    // Pixel and log channels have their own panes.
    await page.goto(`${http(relay)}/console#/channels/camera.front`);
    await page.waitForFunction(() => (document.getElementById('picture') as HTMLImageElement | null)?.naturalWidth === 96, undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'console-pixels.png'), fullPage: true });
    await page.goto(`${http(relay)}/console#/channels/ci.build-42`);
    await page.waitForFunction(() => document.querySelectorAll('#log .log-line').length === 12, undefined, { timeout: 10_000 });
    assert.equal(await page.textContent('#log .log-line.s-stderr .lx'), 'warning: step 5 took longer than expected');
    await page.screenshot({ path: join(SHOTS, 'console-log.png'), fullPage: true });
    // A process channel shows its status and exit code.
    await page.goto(`${http(relay)}/console#/channels/${encodeURIComponent('process:nightly-7')}`);
    await page.waitForFunction(() => document.querySelector('#proc .exit')?.textContent === 'exit code 3', undefined, { timeout: 10_000 });
    assert.equal(await page.textContent('#proc .pill'), 'exited');
    await page.screenshot({ path: join(SHOTS, 'console-process.png'), fullPage: true });
    await page.goto(`${http(relay)}/console#/relay`);
    await page.waitForFunction(() => document.querySelector('#rl-conns tbody tr') !== null, undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'console-relay.png'), fullPage: true });

    // A phone.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 });
    await phone.goto(`${http(relay)}/console`);
    await phone.waitForFunction(() => document.querySelectorAll('#channels tbody tr').length >= 5, undefined, { timeout: 10_000 });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px on a phone`);
    await phone.screenshot({ path: join(SHOTS, 'console-phone.png') });
    await phone.goto(`${http(relay)}/console#/channels/game.lobby-1`);
    await phone.waitForFunction(() => document.querySelector('#inspector tr[data-field="round"]') !== null, undefined, { timeout: 10_000 });
    await phone.screenshot({ path: join(SHOTS, 'console-phone-channel.png'), fullPage: true });
    await phone.goto(`${http(relay)}/console#/relay`);
    await phone.waitForFunction(() => document.querySelector('#rl-conns tbody tr') !== null, undefined, { timeout: 10_000 });
    await phone.screenshot({ path: join(SHOTS, 'console-phone-relay.png'), fullPage: true });

    assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(pageErrors, []);
    console.log(`# console screenshots in ${SHOTS}; inspector latency ${latency} ms`);
  });

  it('under --auth jwt the console and its feed need a token with the admin claim', { timeout: 60_000 }, async (t) => {
    const secret = 'console-test-secret-0123456789abcdef';
    const relay = await startTestRelay({ auth: 'jwt', jwtSecret: secret });
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close();
      await relay.close();
    });
    const key = new TextEncoder().encode(secret);
    const admin = await new SignJWT({ admin: true }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(key);
    const user = await new SignJWT({ subscribe: ['*'], publish: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(key);
    const s = source(`${relay.url}/source/secured?token=${user}`, { initial: { ok: true } });
    t.after(() => s.close());
    await s.when.online();

    const page = await browser.newPage();
    const refused = await page.goto(`${http(relay)}/console`);
    assert.equal(refused?.status(), 401);
    assert.equal(await page.locator('input[name=token]').count(), 1);
    assert.equal((await page.goto(`${http(relay)}/console?token=${user}`))?.status(), 403);
    assert.equal((await fetch(`${http(relay)}/api/channels`)).status, 401);
    assert.equal((await fetch(`${http(relay)}/api/channels`, { headers: { authorization: `Bearer ${user}` } })).status, 403);

    // The login form reopens the console with the token.
    await page.goto(`${http(relay)}/console`);
    await page.fill('input[name=token]', admin);
    await page.click('button[type=submit]');
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLTableRowElement>('#channels tbody tr')).some((r) => r.dataset.name === 'secured'), undefined, { timeout: 15_000 });
    assert.equal(await page.textContent('#live b'), 'live');
    await page.screenshot({ path: join(SHOTS, 'console-auth.png') });
  });
});
