// Codec benchmark: XOR+RLE delta on 1080p RGBA frames at 0/5/30/100 % changed pixels, and
// merge-patch diff/apply on a 50-field state. Run: npm run bench:codec
// Target (issue #2): encode 1080p with 5 % change in ≤ 8 ms on one core.
import { applyDeltaInPlace, encodeDelta, maxDeltaSize } from '../../src/protocol/delta-codec.js';
import { applyDiff, diffStates } from '../../src/protocol/merge-patch.js';
import type { JsonObject } from '../../src/protocol/utf8.js';

const W = 1920;
const H = 1080;
const BYTES = W * H * 4;

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeIt(iterations: number, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn(); // warm-up (JIT)
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

const rand = rng(42);
const base = new Uint8Array(BYTES);
for (let i = 0; i < BYTES; i++) base[i] = (rand() * 256) | 0;

console.log(`XOR+RLE delta, ${W}x${H} RGBA (${(BYTES / 1e6).toFixed(1)} MB/frame), median of 30, Node ${process.version}`);
console.log('| changed | encode ms | encode MB/s | decode ms | decode MB/s | delta bytes | ratio |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
const scratch = new Uint8Array(maxDeltaSize(BYTES));
const results: Record<string, number> = {};
for (const pct of [0, 5, 30, 100]) {
  const cur = base.slice();
  const pixels = W * H;
  const changed = Math.round((pixels * pct) / 100);
  if (pct === 100) {
    for (let p = 0; p < pixels; p++) for (let k = 0; k < 4; k++) cur[p * 4 + k] = base[p * 4 + k]! ^ (1 + ((rand() * 255) | 0));
  } else {
    for (let c = 0; c < changed; c++) {
      const p = (rand() * pixels) | 0;
      for (let k = 0; k < 4; k++) cur[p * 4 + k] = base[p * 4 + k]! ^ (1 + ((rand() * 255) | 0));
    }
  }
  let delta: Uint8Array = encodeDelta(base, cur, scratch).slice();
  const encMs = timeIt(30, () => {
    delta = encodeDelta(base, cur, scratch);
  });
  delta = delta.slice();
  const target = base.slice();
  const decMs = timeIt(30, () => {
    target.set(base);
    applyDeltaInPlace(target, delta);
  });
  // Sanity: the decode reproduced the frame.
  if (Buffer.compare(Buffer.from(target.buffer), Buffer.from(cur.buffer)) !== 0) throw new Error('round trip failed');
  results[`enc${pct}`] = encMs;
  const mbps = (ms: number) => (BYTES / 1e6 / (ms / 1000)).toFixed(0);
  console.log(`| ${pct} % | ${encMs.toFixed(2)} | ${mbps(encMs)} | ${decMs.toFixed(2)} | ${mbps(decMs)} | ${delta.length} | ${(BYTES / delta.length).toFixed(1)}x |`);
}
console.log(`\nTarget: 5 % encode ≤ 8 ms → ${results.enc5! <= 8 ? 'MET' : 'MISSED'} (${results.enc5!.toFixed(2)} ms); decode time includes resetting the frame (8.3 MB copy).\n`);

// Merge patch on a 50-field state.
const state: JsonObject = {};
for (let i = 0; i < 50; i++) state[`field${i}`] = i % 3 === 0 ? `value-${i}` : i % 3 === 1 ? i * 1.5 : { x: i, y: i * 2 };
const changedState: JsonObject = { ...state, field7: 'changed', field20: 999, field31: { x: 1, y: 2 } };
const diff = diffStates(state, changedState);
function opsPerSec(fn: () => void): number {
  const end = performance.now() + 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return n;
}
opsPerSec(() => diffStates(state, changedState)); // warm-up
const diffOps = opsPerSec(() => diffStates(state, changedState));
const applyOps = opsPerSec(() => applyDiff(state, diff));
const wireOps = opsPerSec(() => applyDiff(state, JSON.parse(JSON.stringify(diff)) as JsonObject));
console.log('Merge patch, 50-field state, 3 fields changed');
console.log('| operation | ops/s |');
console.log('|---|---:|');
console.log(`| diffStates (50 fields) | ${diffOps.toLocaleString('en-US')} |`);
console.log(`| applyDiff (3-field diff) | ${applyOps.toLocaleString('en-US')} |`);
console.log(`| JSON.parse + applyDiff | ${wireOps.toLocaleString('en-US')} |`);
