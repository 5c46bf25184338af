/** Exponential backoff with full jitter: delay = random(0, min(max, initial × factor^attempt)). */
export interface BackoffOptions {
  /** First retry's upper bound (ms). Default 1000. */
  initialMs?: number;
  /** Cap (ms). Default 10000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 1000;
  const max = options.maxMs ?? 10_000;
  const factor = options.factor ?? 2;
  const ceiling = Math.min(max, initial * Math.pow(factor, attempt));
  return Math.floor(random() * ceiling);
}
