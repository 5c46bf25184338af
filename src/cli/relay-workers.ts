/**
 * `sluice relay --workers N`: N relay processes on one host, one per core, sharing the port and
 * the Redis engine. The primary process (node:cluster) serves nothing itself: it forks the
 * workers, which all listen on the same port (node:cluster hands them connections in turn; with
 * `--transport uws` the kernel spreads them, SO_REUSEPORT), restarts a worker that dies (with
 * backoff), and on SIGTERM/SIGINT asks every worker to drain and waits for them.
 *
 * Each worker is an ordinary relay node with its own node id; the Redis engine makes them one
 * relay, exactly as separate machines would be.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';

/** Messages between the primary and its workers (over the cluster IPC channel). */
export type WorkerMessage = { type: 'sluice-listening'; url: string; node: string } | { type: 'sluice-stop' };

/** First restart delay after a worker died; doubled per quick death in a row, up to MAX. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;
/** A worker that lived this long died "by accident", not in a crash loop: backoff starts over. */
const HEALTHY_AFTER_MS = 10_000;

export interface PrimaryOptions {
  workers: number;
  /** How long workers get to drain on SIGTERM/SIGINT before they are killed. */
  shutdownTimeoutMs: number;
  /** Where the primary writes what it does (stderr). */
  write?: (line: string) => void;
}

/**
 * Runs the primary: forks `workers` workers of this same command line, prints one
 * "listening on" line once all of them listen, keeps them running until a signal. A worker that
 * exits before the first has listened is a startup failure (a bad port, no Redis): the primary
 * exits with its code instead of restarting it forever.
 */
export function runPrimary(options: PrimaryOptions): void {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const born = new Map<Worker, number>();
  const slotOf = new Map<Worker, number>();
  /** Workers that said they listen: only those drain on 'sluice-stop' (a starting one has no listener yet). */
  const serving = new Set<Worker>();
  const quickDeaths = new Array<number>(options.workers).fill(0);
  let listening = 0;
  let started = false;
  let stopping = false;

  const fork = (slot: number) => {
    const w = cluster.fork({ SLUICE_WORKER: String(slot + 1) });
    born.set(w, Date.now());
    slotOf.set(w, slot);
    w.on('message', (m: WorkerMessage) => {
      if (m?.type !== 'sluice-listening') return;
      serving.add(w);
      if (stopping) return;
      write(`sluice relay: worker ${slot + 1} pid ${w.process.pid} node ${m.node} listening`);
      if (started) return;
      if (++listening === options.workers) {
        started = true;
        write(`sluice relay listening on ${m.url} (${options.workers} workers)`);
      }
    });
  };

  cluster.on('exit', (w, code, signal) => {
    const slot = slotOf.get(w);
    const lived = Date.now() - (born.get(w) ?? 0);
    born.delete(w);
    slotOf.delete(w);
    serving.delete(w);
    if (slot === undefined || stopping) return;
    if (!started) {
      write(`sluice relay: worker ${slot + 1} exited while starting (${signal ?? `code ${code}`}); stopping`);
      stopping = true;
      for (const other of alive()) other.process.kill('SIGTERM');
      waitForAll(code || 1);
      return;
    }
    quickDeaths[slot] = lived >= HEALTHY_AFTER_MS ? 0 : quickDeaths[slot]! + 1;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, quickDeaths[slot]! - 1));
    write(`sluice relay: worker ${slot + 1} pid ${w.process.pid} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, delay);
  });

  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const waitForAll = (exitCode: number) => {
    const deadline = setTimeout(() => {
      for (const w of alive()) w.process.kill('SIGKILL');
    }, options.shutdownTimeoutMs + 2_000);
    deadline.unref();
    const check = () => {
      if (alive().length > 0) return void setTimeout(check, 20);
      process.exit(exitCode);
    };
    check();
  };

  const stopAll = (exitCode: number) => {
    stopping = true;
    for (const w of alive()) {
      // A worker still starting has no drain yet: SIGTERM ends it the plain way.
      if (w.isConnected() && serving.has(w)) w.send({ type: 'sluice-stop' } satisfies WorkerMessage);
      else w.process.kill('SIGTERM');
    }
    waitForAll(exitCode);
  };

  let signalled = false;
  const onSignal = (signal: string) => {
    if (signalled) {
      write(`sluice relay: second ${signal}, exiting now`);
      for (const w of alive()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    signalled = true;
    write(`sluice relay: ${signal}, draining ${alive().length} workers (send again to exit at once)`);
    stopAll(0);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  for (let i = 0; i < options.workers; i++) fork(i);
}

/**
 * In a worker: reports to the primary once listening, and drains when the primary asks or goes
 * away. SIGINT is left to the primary (a terminal's Ctrl-C reaches the whole process group).
 */
export function serveAsWorker(url: string, node: string, drain: (why: string) => void): void {
  process.send?.({ type: 'sluice-listening', url, node } satisfies WorkerMessage);
  process.on('message', (m: WorkerMessage) => {
    if (m?.type === 'sluice-stop') drain('asked by the primary');
  });
  // The primary died (kill -9): nobody restarts or stops us; drain rather than serve orphaned.
  process.on('disconnect', () => drain('the primary process went away'));
  process.on('SIGINT', () => {});
}

export const isWorker = (): boolean => cluster.isWorker;
