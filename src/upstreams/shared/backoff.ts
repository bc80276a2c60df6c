/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * the delay is uniform in [0, min(max, initial * 2^attempt)], so many gateways reconnecting to one
 * restarted upstream spread out instead of arriving together.
 */
import { z } from 'zod';

export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. */
  initialMs: number;
  /** Largest ceiling, in ms. */
  maxMs: number;
  /** Uniform random number in [0, 1); tests pin it. @default Math.random */
  random?: () => number;
}

/**
 * The config fragment of a reconnect backoff. Each kind passes its own defaults, because DRP and
 * Abiquo were tuned apart (DRP restarts quickly; the Outbound API sits behind slower load balancers).
 */
export function backoffSchema(defaults: { initialMs: number; maxMs: number }) {
  return z
    .object({
      /** Ceiling of the first reconnect delay, milliseconds. */
      initialMs: z.number().int().min(0).default(defaults.initialMs),
      /** Largest reconnect delay ceiling, milliseconds. */
      maxMs: z.number().int().min(0).default(defaults.maxMs),
    })
    .strict()
    .prefault({});
}

export class Backoff {
  #attempt = 0;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions) {
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#random = options.random ?? Math.random;
  }

  /** Failed attempts since the last reset(). */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, in ms; each call widens the window until maxMs. */
  next(): number {
    // Cap the exponent: 2^attempt overflows long before anyone waits that long.
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.floor(this.#random() * ceiling);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
