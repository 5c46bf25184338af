/**
 * Drives one system's load run: `native/load-generator.c` (one source and N receivers on one
 * epoll loop, pinned to the load core by the orchestrator) does the sending and receiving; this
 * process announces phases to the orchestrator, so it can sample the server's CPU and memory:
 *   idle        N receivers connected, nothing flowing (memory per idle receiver)
 *   latency     the source sends at a fixed rate; every message carries its send time, so each
 *               delivery gives a source→receiver latency
 *   saturation  the source keeps a window of messages in flight (sent minus the newest message
 *               three probe receivers have all seen), refilled as soon as they progress
 */
import { ADAPTERS } from './adapters.js';
import { startGenerator } from './generator-process.js';

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
  /** The compiled `native/load-generator.c`. */
  generator: string;
  /** Poll without sleeping (see docs/benchmarks.md). */
  spin: boolean;
  /** A second node's port: half the receivers connect there, the source stays on `port`. */
  port2?: number;
  /**
   * A gentle phase first, at `rate` msgs/s for `ms`, between the phases `count-start` and
   * `count-end` (the cluster benchmark counts Redis commands per update there).
   */
  count?: { rate: number; ms: number };
}

export interface LoadResult {
  target: string;
  n: number;
  connected: number;
  latency: { p50: number; p99: number; samples: number; expected: number };
  saturation: { delivered: number; seconds: number; perSecond: number; sent: number; loadCpuPercent: number };
  /** Per receiver group (on `port`, then on `port2`): latency at the fixed rate, deliveries at saturation. */
  groups: { connected: number; p50: number; p99: number; samples: number; delivered: number }[];
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

async function main(): Promise<LoadResult> {
  const gen = startGenerator({ binary: cfg.generator, host: cfg.host, port: cfg.port, adapter, receivers: cfg.n, spin: cfg.spin, ...(cfg.port2 ? { port2: cfg.port2 } : {}) });
  try {
    const connected = Number(await gen.next('ready'));
    if (connected < 0) throw new Error('the source could not connect');
    await sleep(1500);
    await phase('idle');

    if (cfg.count) {
      gen.command('reset');
      await phase('count-start');
      const counted = gen.next('latency-done');
      gen.command(`latency ${cfg.count.rate} ${cfg.count.ms}`);
      await counted;
      // Until every delivery is in (or 2 s without progress): the latency phase reuses the indexes.
      const expected = Math.round((cfg.count.rate * cfg.count.ms) / 1000) * connected;
      let seen = -1;
      let since = performance.now();
      for (const end = performance.now() + 30_000; performance.now() < end; await sleep(200)) {
        const { delivered } = await gen.report();
        if (delivered >= expected || performance.now() - since > 2000) break;
        if (delivered !== seen) [seen, since] = [delivered, performance.now()];
      }
      await phase('count-end');
    }

    // Latency at a fixed rate.
    gen.command('reset');
    gen.command('measure 1');
    await phase('lat-start');
    const done = gen.next('latency-done');
    gen.command(`latency ${cfg.latencyRate} ${cfg.latencyMs}`);
    await done;
    await phase('lat-end');
    await sleep(1500);
    gen.command('measure 0');
    const lat = await gen.report();
    const total = Math.round((cfg.latencyRate * cfg.latencyMs) / 1000);

    // Saturation.
    gen.command(`saturate ${cfg.window}`);
    await sleep(cfg.warmMs);
    await phase('sat-start');
    const before = await gen.report();
    const start = performance.now();
    await sleep(cfg.satMs);
    const after = await gen.report();
    const seconds = (performance.now() - start) / 1000;
    await phase('sat-end');
    gen.command('stop');
    // Under --spin the generator's CPU is always 100 %: its busy time is the load it carries.
    const loadSeconds = cfg.spin ? after.busySeconds - before.busySeconds : after.cpuSeconds - before.cpuSeconds;
    return {
      target: cfg.target,
      n: cfg.n,
      connected,
      latency: { p50: lat.p50, p99: lat.p99, samples: lat.samples, expected: total * connected },
      saturation: {
        delivered: after.delivered - before.delivered,
        seconds,
        perSecond: (after.delivered - before.delivered) / seconds,
        sent: after.sent - before.sent,
        loadCpuPercent: (loadSeconds / seconds) * 100,
      },
      groups: after.groups.map((g, i) => {
        const l = lat.groups[i]!;
        return { connected: g.connected, p50: l.p50, p99: l.p99, samples: l.samples, delivered: g.delivered - (before.groups[i]?.delivered ?? 0) };
      }),
    };
  } finally {
    gen.kill();
  }
}

main().then(
  (r) => {
    process.send!({ result: r }, () => process.exit(0));
  },
  (e: Error) => {
    process.send!({ result: { target: cfg.target, n: cfg.n, error: e.message } }, () => process.exit(1));
  },
);
