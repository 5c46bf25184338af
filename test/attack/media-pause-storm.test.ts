// Media pause under attack (docs/protocol.md "Pausing media"), over real sockets: several receivers
// toggle media at random while the source publishes big keyframes, deltas and resets, and some
// receivers stop reading (slow-receiver policy) while paused, then resume. Invariant: after
// settling, every receiver that is not paused holds the source's current picture byte for byte
// (decoded here from its Keyframe/Pixels/DeltaPixels), and no receiver got more keyframes than
// there were picture changes plus its join. Also hostile Hello values and Hello floods.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyDelta, encodeDelta } from '../../src/protocol/delta-codec.js';
import { FrameType } from '../../src/protocol/frame-codes.js';
import { HEADER_SIZE } from '../../src/protocol/header.js';
import type { Message } from '../../src/protocol/message.js';
import { TestPeer, internalErrors, startTestRelay } from '../support/relay-harness.js';
import { until } from '../support/wait.js';

const W = 256;
const H = 128; // 128 KiB pictures: a few of them pass the 1 MiB default high-water mark

function helloBytes(payload: unknown): Uint8Array {
  const body = new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const out = new Uint8Array(HEADER_SIZE + body.length);
  out[0] = FrameType.Hello;
  new DataView(out.buffer).setUint32(12, body.length, true);
  out.set(body, HEADER_SIZE);
  return out;
}

/** A small deterministic PRNG (mulberry32): a failing seed replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Decodes a receiver's picture frames like a client; throws on a delta with no picture (broken chain). */
function decode(messages: readonly Message[]): Uint8Array | undefined {
  let rgba: Uint8Array | undefined;
  for (const m of messages) {
    if (m.kind === 'keyframe' || m.kind === 'pixels') rgba = m.data.length ? m.data.slice() : undefined;
    else if (m.kind === 'delta-pixels') {
      if (!rgba) throw new Error('a delta arrived with no picture: broken chain');
      rgba = applyDelta(rgba, m.data);
    }
  }
  return rgba;
}

const pictures = (r: TestPeer) => r.received.flatMap((x) => (x.message && ['keyframe', 'pixels', 'delta-pixels'].includes(x.message.kind) ? [x.message] : []));

async function roundTrip(p: TestPeer): Promise<void> {
  const before = p.messages('pong').length;
  p.send({ kind: 'ping', seq: 1 });
  await p.until(() => p.messages('pong').length > before, 20_000, 'pong');
}

describe('attack: media pause storms', () => {
  // pause=false: the same storm with no media toggles at all (stalls only): isolates the
  // slow-receiver policy with ?batch=1 receivers from media pause.
  for (const [seed, pause] of [[1, true], [2, true], [3, true], [1, false], [3, false]] as const) {
    it(`seed ${seed}${pause ? '' : ', no pauses'}: random ${pause ? 'toggles, ' : ''}stalls, big keyframes, deltas and resets; every live receiver (plain and ?batch=1) ends on the source's picture`, async (t) => {
      const relay = await startTestRelay({ maxFramesPerSecond: 100_000, receiverHighWaterBytes: 256 * 1024 });
      const ch = `mps-${seed}-${pause}`;
      const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
      await src.next('welcome');
      const rs: TestPeer[] = [];
      const paused: boolean[] = [];
      const stalled: boolean[] = [];
      t.after(async () => {
        src.ws.terminate();
        for (const r of rs) r.ws.terminate();
        await relay.close();
      });
      const next = rng(seed);
      for (let i = 0; i < 4; i++) {
        // Receivers 2 and 3 take batches (?batch=1): paused skips must not break a shared batch.
        const r = await TestPeer.connect(`${relay.url}/stream/${ch}${i >= 2 ? '?batch=1' : ''}`);
        const p = pause && i % 2 === 0;
        r.sendRaw(helloBytes({ media: !p, client: 'attack' }));
        await r.next('welcome');
        rs.push(r);
        paused.push(p);
        stalled.push(false);
      }
      let picture: Uint8Array | undefined;
      let changes = 0;
      const paint = (prev: Uint8Array | undefined, dense: boolean): Uint8Array => {
        const out = prev ? prev.slice() : new Uint8Array(W * H * 4);
        const n = dense ? out.length / 3 : 200;
        for (let i = 0; i < n; i++) out[Math.floor(next() * out.length)] = Math.floor(next() * 256);
        return out;
      };
      for (let step = 0; step < 400; step++) {
        const x = next();
        if (x < 0.1 || picture === undefined) {
          picture = paint(picture, true);
          src.send({ kind: 'keyframe', width: W, height: H, data: picture });
          changes++;
        } else if (x < 0.6) {
          const n2 = paint(picture, next() < 0.3);
          src.send({ kind: 'delta-pixels', width: W, height: H, data: encodeDelta(picture, n2).slice() });
          picture = n2;
          changes++;
        } else if (x < 0.63) {
          // A bare reset: the picture is gone.
          src.send({ kind: 'keyframe', width: 0, height: 0, data: new Uint8Array(0) });
          picture = undefined;
          changes++;
        } else if (x < 0.9) {
          const i = Math.floor(next() * rs.length);
          paused[i] = pause ? !paused[i] : false;
          rs[i]!.sendRaw(helloBytes(next() < 0.2 ? { media: !paused[i], select: [] } : { media: !paused[i] }));
        } else {
          const i = Math.floor(next() * rs.length);
          stalled[i] = !stalled[i];
          if (stalled[i]) rs[i]!.pauseReading();
          else rs[i]!.resumeReading();
        }
        if (step % 50 === 49) await roundTrip(src);
      }
      // Settle: every receiver reads again and resumes media; the source publishes nothing more.
      for (let i = 0; i < rs.length; i++) {
        rs[i]!.resumeReading();
        if (paused[i]) rs[i]!.sendRaw(helloBytes({ media: true }));
        paused[i] = false;
      }
      await roundTrip(src);
      for (const [i, r] of rs.entries()) {
        await until(
          () => {
            let got: Uint8Array | undefined;
            try {
              got = decode(pictures(r));
            } catch {
              return false;
            }
            return picture === undefined ? got === undefined : got !== undefined && Buffer.compare(got, picture) === 0;
          },
          8_000,
          `receiver ${i} holds the source's picture (seed ${seed})`,
        ).catch(() => undefined);
        assert.equal(r.closeCode, undefined, `receiver ${i} was closed: ${r.closeCode} ${r.closeReason}`);
        const got = decode(pictures(r)); // throws on a broken chain
        if (process.env.MPS_DEBUG) {
          const pf = relay.channels.get(ch)!.cache.pictureFrame();
          const cached = pf ? pf.subarray(HEADER_SIZE) : undefined;
          console.log(`r${i} close=${r.closeCode} srcClose=${src.closeCode} cache==src:${cached && picture ? Buffer.compare(cached, picture) : 'n/a'} got==cache:${cached && got ? Buffer.compare(cached, got) : String(got)} undecoded=${r.received.filter((x) => !x.message).length} kindsSeen=${[...new Set(r.received.map((x) => x.message?.kind))].join('/')} dupDeltas=${(() => { const seen = new Set<string>(); let d = 0; for (const m of pictures(r)) if (m.kind === 'delta-pixels') { const k = Buffer.from(m.data).toString('base64'); if (seen.has(k)) d++; seen.add(k); } return d; })()} batches=${r.batches} kinds=${pictures(r).slice(-6).map((m) => m.kind + ':' + (m.kind === 'keyframe' ? m.data.length : '')).join(',')} changes=${changes} errors=${r.messages('error').map((e) => JSON.stringify(e)).join(';')}`);
        }
        if (picture === undefined) assert.equal(got, undefined, `receiver ${i}: the picture was reset, it still shows one`);
        else {
          assert.ok(got, `receiver ${i} has no picture`);
          assert.ok(Buffer.compare(got, picture) === 0, `receiver ${i}: its picture differs from the source's (seed ${seed})`);
        }
        const keyframes = r.messages('keyframe').length;
        assert.ok(keyframes <= changes + 1, `receiver ${i}: ${keyframes} keyframes for ${changes} picture changes`);
      }
      assert.equal(internalErrors(relay), 0);
    });
  }

  it('hostile Hello values are refused with 4400 and never crash the relay', async (t) => {
    const relay = await startTestRelay();
    const ch = 'mps-hostile';
    const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
    await src.next('welcome');
    const opened: TestPeer[] = [src];
    t.after(async () => {
      for (const p of opened) p.ws.terminate();
      await relay.close();
    });
    const bad: unknown[] = [
      { media: 'false' },
      { media: 0 },
      { media: 1 },
      { media: null },
      { media: [] },
      { media: {} },
      { media: { __proto__: { media: false } } },
      '{"media":false,"media":"x"}',
      '{"__proto__":{"media":false},"media":"no"}',
      `{"media":${'['.repeat(70)}false${']'.repeat(70)}}`,
      `{"media":"${'f'.repeat(900_000)}"}`,
    ];
    for (const [k, payload] of bad.entries()) {
      for (const first of [true, false]) {
        const r = await TestPeer.connect(`${relay.url}/stream/${ch}`);
        opened.push(r);
        if (!first) {
          r.sendRaw(helloBytes({}));
          await r.next('welcome');
          r.sendRaw(helloBytes({ media: false }));
        }
        r.sendRaw(helloBytes(payload));
        const code = await r.waitClose(5000);
        assert.equal(code, 4400, `payload #${k} (${first ? 'first' : 'later'} Hello): close ${code}`);
      }
    }
    // __proto__ carrying a valid media member is not mistaken for one: a Hello whose own `media`
    // is absent leaves the receiver live.
    const ok = await TestPeer.connect(`${relay.url}/stream/${ch}`);
    opened.push(ok);
    ok.sendRaw(helloBytes('{"__proto__":{"media":false}}'));
    await ok.next('welcome');
    src.send({ kind: 'keyframe', width: 1, height: 1, data: new Uint8Array([1, 2, 3, 4]) });
    await ok.until(() => ok.messages('keyframe').length === 1, 5000, 'a keyframe: media was not paused by __proto__');
    assert.equal(internalErrors(relay), 0);
  });

  it('a Hello flood (50,000 toggles + selects from 5 receivers) leaves the relay responsive to others', async (t) => {
    const relay = await startTestRelay({ maxFramesPerSecond: 1_000_000 });
    const ch = 'mps-flood';
    const src = await TestPeer.connect(`${relay.url}/source/${ch}`);
    await src.next('welcome');
    const opened: TestPeer[] = [src];
    t.after(async () => {
      for (const p of opened) p.ws.terminate();
      await relay.close();
    });
    src.send({ kind: 'keyframe', width: 64, height: 64, data: new Uint8Array(64 * 64 * 4).fill(7) });
    const quiet = await TestPeer.connect(`${relay.url}/stream/${ch}`);
    opened.push(quiet);
    await quiet.next('welcome');
    const floods: TestPeer[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await TestPeer.connect(`${relay.url}/stream/${ch}`);
      opened.push(r);
      floods.push(r);
      await r.next('welcome');
    }
    const t0 = performance.now();
    for (let n = 0; n < 10_000; n++) for (const r of floods) r.sendRaw(helloBytes(n % 3 === 0 ? { media: n % 2 === 0, select: ['a', 'b.c'] } : { media: n % 2 === 0 }));
    // While the flood is read, the quiet receiver still gets state promptly.
    src.send({ kind: 'signal-sync', state: { tick: 1 } });
    await quiet.until(() => quiet.state.tick === 1, 20_000, 'state for the quiet receiver during the flood');
    for (const r of floods) await roundTrip(r);
    const ms = performance.now() - t0;
    assert.equal(internalErrors(relay), 0);
    assert.ok(ms < 20_000, `the flood took ${ms} ms`);
  });
});
