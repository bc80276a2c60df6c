/** Abiquo test setup: config, dependencies and update waiters (the clock and publisher are test/helpers'). */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Clock } from '../../../src/clock.js';
import { providerSchema, type AbiquoProviderConfig } from '../../../src/config.js';
import type { EventPublisher } from '../../../src/events/types.js';
import type { AbiquoCacheUpdate, AbiquoProvider } from '../../../src/upstreams/abiquo/provider.js';
import type { PublishingUpstreamDeps } from '../../../src/upstreams/descriptor.js';

/** A validated `abiquo` provider entry: the schema supplies every default the test does not set. */
export function abiquoConfig(input: Record<string, unknown>): AbiquoProviderConfig {
  return providerSchema.parse({ kind: 'abiquo', name: 'abq', ...input }) as AbiquoProviderConfig;
}

export function upstreamDeps(events: EventPublisher, clock: Clock): PublishingUpstreamDeps {
  return { logger: pino({ level: 'silent' }), events, metrics: new Registry(), clock };
}

/** Records a provider's cache updates from the moment it is attached; waits for the n-th matching one. */
export class UpdateLog {
  readonly updates: AbiquoCacheUpdate[] = [];
  #waiters: Array<{ pred: (u: AbiquoCacheUpdate) => boolean; n: number; resolve: () => void }> = [];

  constructor(provider: AbiquoProvider) {
    provider.onUpdate((u) => {
      this.updates.push(u);
      this.#waiters = this.#waiters.filter((w) => {
        if (this.#count(w.pred) < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  #count(pred: (u: AbiquoCacheUpdate) => boolean): number {
    return this.updates.filter(pred).length;
  }

  /** Resolves once at least `n` updates matching `pred` have been seen since attaching. */
  waitFor(pred: (u: AbiquoCacheUpdate) => boolean, n = 1): Promise<void> {
    if (this.#count(pred) >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ pred, n, resolve }));
  }
}
