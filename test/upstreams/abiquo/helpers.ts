/** Test doubles for the Abiquo tests: hand-driven timers, a recording event publisher, update waiters, config and deps. */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Clock } from '../../../src/clock.js';
import { providerSchema, type AbiquoProviderConfig } from '../../../src/config.js';
import type { EventPublisher, GatewayEventInput } from '../../../src/events/types.js';
import type { AbiquoCacheUpdate, AbiquoProvider } from '../../../src/upstreams/abiquo/provider.js';
import type { PublishingUpstreamDeps } from '../../../src/upstreams/descriptor.js';

/** A validated `abiquo` provider entry: the schema supplies every default the test does not set. */
export function abiquoConfig(input: Record<string, unknown>): AbiquoProviderConfig {
  return providerSchema.parse({ kind: 'abiquo', name: 'abq', ...input }) as AbiquoProviderConfig;
}

export function upstreamDeps(events: EventPublisher, clock: Clock): PublishingUpstreamDeps {
  return { logger: pino({ level: 'silent' }), events, metrics: new Registry(), clock };
}

export interface PendingTimer {
  id: number;
  ms: number;
  fn: () => void;
}

/** Timers that only fire when the test says so; the time itself is real. */
export class ManualTimers implements Clock {
  readonly pending: PendingTimer[] = [];
  #nextId = 1;
  #waiters: Array<{ pred: (t: PendingTimer) => boolean; resolve: (t: PendingTimer) => void }> = [];

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): number {
    const timer = { id: this.#nextId++, ms, fn };
    this.pending.push(timer);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred(timer)) return true;
      w.resolve(timer);
      return false;
    });
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    const i = this.pending.findIndex((t) => t.id === handle);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** The first pending timer matching `pred`, now or when one is set. */
  waitFor(pred: (t: PendingTimer) => boolean): Promise<PendingTimer> {
    const found = this.pending.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }

  fire(timer: PendingTimer): void {
    const i = this.pending.indexOf(timer);
    if (i < 0) throw new Error('timer is not pending');
    this.pending.splice(i, 1);
    timer.fn();
  }
}

export class RecordingPublisher implements EventPublisher {
  readonly events: GatewayEventInput[] = [];
  #waiters: Array<{ pred: (e: GatewayEventInput) => boolean; resolve: (e: GatewayEventInput) => void }> = [];

  publish(event: GatewayEventInput): void {
    this.events.push(event);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred(event)) return true;
      w.resolve(event);
      return false;
    });
  }

  waitFor(pred: (e: GatewayEventInput) => boolean): Promise<GatewayEventInput> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }
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
