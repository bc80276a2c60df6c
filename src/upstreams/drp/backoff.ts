/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * the delay is uniform in [0, min(max, initial * 2^attempt)], so many gateways reconnecting to one
 * restarted DRP endpoint spread out instead of arriving together.
 */
export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. Default: 500. */
  initialMs?: number;
  /** Largest ceiling, in ms. Default: 30000. */
  maxMs?: number;
  /** Uniform random number in [0, 1). Default: Math.random. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt, in ms; each call widens the window until maxMs. */
  next(): number {
    // Cap the exponent: 2^attempt overflows long before anyone waits that long.
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
