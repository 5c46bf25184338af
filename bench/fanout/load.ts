/**
 * The load generator (a separate process, pinned to its own core by the orchestrator): N
 * receivers and one source on raw WebSockets. Phases, each announced to the orchestrator so it
 * can sample the server's CPU and memory:
 *   idle        N receivers connected, nothing flowing (memory per idle receiver)
 *   latency     the source sends at a fixed rate; receiver k's i-th message is matched to the
 *               i-th send (no payload parsing), giving source→receiver latency
 *   saturation  the source sends as fast as the system delivers, with a bounded window of
 *               messages in flight (measured against probe receivers)
 */
import { ADAPTERS } from './adapters.js';
import type { AsyncFrames } from './adapters.js';
import { RawWsClient } from './raw-ws-client.js';

export interface LoadConfig {
  target: string;
  host: string;
  port: number;
  n: number;
  window: number;
  latencyRate: number;
  latencyMs: number;
  warmMs: number;
  satMs: number;
}

export interface LoadResult {
  target: string;
  n: number;
  connected: number;
  latency: { p50: number; p99: number; samples: number; expected: number };
  saturation: { delivered: number; seconds: number; perSecond: number; sent: number; loadCpuPercent: number };
  error?: string;
}

const cfg = JSON.parse(process.argv[2]!) as LoadConfig;
const adapter = ADAPTERS[cfg.target]!;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Asks the orchestrator to sample the server at a phase boundary. */
function phase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const onMsg = (m: unknown) => {
      if ((m as { ack?: string }).ack === name) {
        process.off('message', onMsg);
        resolve();
      }
    };
    process.on('message', onMsg);
    process.send!({ phase: name });
  });
}

// Latency histogram: 10 µs buckets up to 5 s.
const BUCKET_US = 10;
/** First message index of the saturation phase (latency-phase indexes are below it). */
const SAT_BASE = 10_000_000;
const hist = new Uint32Array(500_000);
let measuring = false;
let sendTimes: number[] = [];
/** Called when a probe receiver counted messages (saturation pump). */
let onProbe: () => void = () => {};
const probeSet = new Set<unknown>();

interface Receiver {
  client: RawWsClient;
  count: number;
  latest: number;
}

function percentile(p: number): number {
  let total = 0;
  for (const c of hist) total += c;
  let acc = 0;
  const target = total * p;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= target && total > 0) return ((i + 0.5) * BUCKET_US) / 1000;
  }
  return NaN;
}

async function openClient(path: string, role: 'source' | 'receiver', onFrame: (op: number, p: Uint8Array) => void): Promise<RawWsClient> {
  let waiter: { pred: (op: number, p: Uint8Array) => boolean; resolve: (p: Uint8Array) => void } | undefined;
  let handshaking = true;
  // Frames that arrive with the 101 response, before the handshake starts waiting for them.
  const early: Array<[number, Uint8Array]> = [];
  let clientRef: RawWsClient | undefined; // eslint-disable-line prefer-const -- assigned after the handler that reads it is created
  const frames: AsyncFrames = {
    next: (pred, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const i = early.findIndex(([op, p]) => pred(op, p));
        if (i >= 0) {
          const [, p] = early.splice(i, 1)[0]!;
          resolve(p);
          return;
        }
        const t = setTimeout(() => reject(new Error('handshake timeout')), timeoutMs);
        waiter = {
          pred,
          resolve: (p) => {
            clearTimeout(t);
            resolve(p);
          },
        };
      }),
  };
  const client = await RawWsClient.open(cfg.host, cfg.port, path, (op, p) => {
    if (handshaking) {
      if (waiter && waiter.pred(op, p)) {
        const w = waiter;
        waiter = undefined;
        w.resolve(p);
      } else early.push([op, Uint8Array.from(p)]);
      return;
    }
    if (adapter.control(clientRef!, op, p)) return;
    onFrame(op, p);
  });
  clientRef = client;
  await adapter.handshake(client, role, frames);
  handshaking = false;
  return client;
}

async function main(): Promise<LoadResult> {
  const result: LoadResult = {
    target: cfg.target,
    n: cfg.n,
    connected: 0,
    latency: { p50: NaN, p99: NaN, samples: 0, expected: 0 },
    saturation: { delivered: 0, seconds: 0, perSecond: 0, sent: 0, loadCpuPercent: 0 },
  };
  const receivers: Receiver[] = [];
  for (let i = 0; i < cfg.n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, cfg.n - i) }, async () => {
        const r: Receiver = { client: undefined as unknown as RawWsClient, count: 0, latest: -1 };
        r.client = await openClient(adapter.receiverPath, 'receiver', (op, p) => {
          const n = adapter.count(op, p);
          if (n === 0) return;
          if (probeSet.has(r)) {
            // Progress is the newest message index seen: conflated receivers skip indexes.
            r.latest = Math.max(r.latest, adapter.lastIndex(op, p));
          }
          if (measuring) {
            const now = performance.now();
            for (let j = 0; j < n; j++) {
              const sent = sendTimes[r.count + j];
              if (sent !== undefined) hist[Math.min(hist.length - 1, Math.floor(((now - sent) * 1000) / BUCKET_US))]!++;
            }
          }
          r.count += n;
          if (probeSet.has(r)) onProbe();
        });
        receivers.push(r);
      }),
    );
  }
  result.connected = receivers.length;
  const source = await openClient(adapter.sourcePath, 'source', () => {});
  // Message indexes restart per phase: the saturation phase numbers from SAT_BASE.
  await sleep(1500);
  await phase('idle');

  // Latency at a fixed rate.
  for (const r of receivers) r.count = 0;
  sendTimes = [];
  measuring = true;
  await phase('lat-start');
  const total = Math.round((cfg.latencyRate * cfg.latencyMs) / 1000);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / cfg.latencyRate;
    while (performance.now() < due) await sleep(Math.max(0, Math.min(2, due - performance.now())));
    sendTimes.push(performance.now());
    adapter.send(source, i);
  }
  await phase('lat-end');
  await sleep(1500);
  measuring = false;
  let samples = 0;
  for (const c of hist) samples += c;
  result.latency = { p50: percentile(0.5), p99: percentile(0.99), samples, expected: total * receivers.length };

  // Saturation: a bounded window of messages in flight, measured against probe receivers. The
  // pump runs when a probe receives or the source's socket drains — never as a busy loop — so the
  // load generator's CPU figure means something.
  for (const r of receivers) r.count = 0;
  const probes = [receivers[0]!, receivers[Math.floor(receivers.length / 2)]!, receivers[receivers.length - 1]!];
  for (const p of probes) {
    p.latest = SAT_BASE - 1;
    probeSet.add(p);
  }
  let sent = 0;
  let running = true;
  let pumpQueued = false;
  const pump = () => {
    pumpQueued = false;
    if (!running) return;
    let minProbe = Infinity;
    for (const p of probes) minProbe = Math.min(minProbe, p.latest - SAT_BASE + 1);
    const allowed = cfg.window - (sent - minProbe);
    if (allowed > 0 && source.buffered < 1 << 20) {
      source.socket.cork();
      for (let k = 0; k < allowed; k++) adapter.send(source, SAT_BASE + sent++);
      source.socket.uncork();
    }
  };
  onProbe = () => {
    if (!pumpQueued) {
      pumpQueued = true;
      setImmediate(pump);
    }
  };
  source.socket.on('drain', onProbe);
  const kick = setInterval(onProbe, 50); // in case every probe is idle (nothing in flight)
  pump();
  await sleep(cfg.warmMs);
  await phase('sat-start');
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const delivered0 = receivers.reduce((a, r) => a + r.count, 0);
  const sent0 = sent;
  await sleep(cfg.satMs);
  const delivered1 = receivers.reduce((a, r) => a + r.count, 0);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await phase('sat-end');
  running = false;
  clearInterval(kick);
  result.saturation = {
    delivered: delivered1 - delivered0,
    seconds,
    perSecond: (delivered1 - delivered0) / seconds,
    sent: sent - sent0,
    loadCpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
  };
  source.close();
  for (const r of receivers) r.client.close();
  return result;
}

main().then(
  (r) => {
    process.send!({ result: r }, () => process.exit(0));
  },
  (e: Error) => {
    process.send!({ result: { target: cfg.target, n: cfg.n, error: e.message } }, () => process.exit(1));
  },
);
