/**
 * Per-key token buckets (console ticket minting): each caller may do `burst` at once and then
 * `perMinute` a minute. Memory stays proportional to the callers active in the last few minutes:
 * a bucket that has refilled completely is the same as no bucket, so sweeps drop it.
 */

export interface TokenBucketLimits {
  /** Tokens added per minute. */
  perMinute: number;
  /** Bucket size: how many may be taken at once after a quiet spell. */
  burst: number;
}

export interface KeyedTokenBucketOptions {
  /** Current limits; read on every take, so a reload applies at once. */
  limits: () => TokenBucketLimits;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
  /** Minimum time between sweeps of full buckets, milliseconds. @default 60_000 */
  sweepIntervalMs?: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

/** A per-key minting budget: this process's KeyedTokenBucket, or a fleet's shared one (src/fleet/rate-limit.ts). */
export interface TicketBudget {
  take(key: string): TakeResult | Promise<TakeResult>;
}

export class KeyedTokenBucket implements TicketBudget {
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();
  readonly #limits: () => TokenBucketLimits;
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #lastSweepMs: number;

  constructor(options: KeyedTokenBucketOptions) {
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#lastSweepMs = this.#now();
  }

  /** Buckets held (for tests). */
  get size(): number {
    return this.#buckets.size;
  }

  take(key: string): TakeResult {
    const now = this.#now();
    const { perMinute, burst } = this.#limits();
    if (now - this.#lastSweepMs >= this.#sweepIntervalMs) this.#sweep(now, perMinute, burst);
    const ratePerMs = perMinute / 60_000;
    const bucket = this.#buckets.get(key) ?? { tokens: burst, atMs: now };
    const tokens = Math.min(burst, bucket.tokens + Math.max(0, now - bucket.atMs) * ratePerMs);
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, atMs: now });
      return { ok: true };
    }
    this.#buckets.set(key, { tokens, atMs: now });
    return { ok: false, retryAfterMs: ratePerMs > 0 ? Math.ceil((1 - tokens) / ratePerMs) : Number.POSITIVE_INFINITY };
  }

  #sweep(now: number, perMinute: number, burst: number): void {
    this.#lastSweepMs = now;
    const ratePerMs = perMinute / 60_000;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.atMs) * ratePerMs >= burst) this.#buckets.delete(key);
    }
  }
}
