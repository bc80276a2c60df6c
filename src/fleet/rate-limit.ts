/**
 * The console-ticket minting budget shared by a fleet: rate-limiter-flexible's `RateLimiterRedis`
 * on the fleet's connection, so a caller's budget is the same whichever replica mints.
 *
 * The in-process budget is a token bucket (`burst` at once, `perMinute` a minute). A Redis limiter
 * counts in fixed windows, so the same two settings become `burst` tickets per window of
 * `60 × burst / perMinute` seconds: the same burst, the same long-run rate.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { TakeResult, TicketBudget, TokenBucketLimits } from '../auth/token-bucket.js';
import { StoreUnavailableError } from './redis.js';

export class RedisTicketBudget implements TicketBudget {
  readonly #redis: Redis;
  readonly #limits: () => TokenBucketLimits;
  /** One limiter per limits in force: a reload that changes them starts fresh windows. */
  #limiter: { perMinute: number; burst: number; limiter: RateLimiterRedis } | null = null;

  constructor(options: { redis: Redis; limits: () => TokenBucketLimits }) {
    this.#redis = options.redis;
    this.#limits = options.limits;
  }

  async take(key: string): Promise<TakeResult> {
    const { perMinute, burst } = this.#limits();
    if (this.#limiter?.perMinute !== perMinute || this.#limiter.burst !== burst) {
      const duration = Math.max(1, Math.round((60 * burst) / perMinute));
      this.#limiter = {
        perMinute,
        burst,
        limiter: new RateLimiterRedis({ storeClient: this.#redis, keyPrefix: `tickets-rl:${burst}:${duration}`, points: burst, duration, rejectIfRedisNotReady: true }),
      };
    }
    try {
      await this.#limiter.limiter.consume(key, 1);
      return { ok: true };
    } catch (res) {
      if (res instanceof RateLimiterRes) return { ok: false, retryAfterMs: res.msBeforeNext };
      throw new StoreUnavailableError('redis did not answer', { cause: res });
    }
  }
}
