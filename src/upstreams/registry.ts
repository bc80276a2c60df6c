/**
 * Builds upstreams from validated `providers[]` entries through their kind's descriptor. Which
 * upstreams have VMs is what the descriptor says (`provides.vms`), not a probe of the instance.
 */
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import type { Fleet } from '../fleet/redis.js';
import type { Logger } from '../logger.js';
import type { AnyUpstreamKind, UpstreamDeps } from './descriptor.js';
import { upstreamKinds } from './kinds.js';
import type { Provider, Upstream } from './types.js';

export interface UpstreamRegistryDeps {
  /** The root logger; each upstream gets a child bound to `{ provider: <name> }`. */
  logger: Logger;
  events: EventBus;
  metrics: Registry;
  /** @default systemClock */
  clock?: Clock;
  /** The fleet's shared Redis; absent or null without `redis` in the config. */
  fleet?: Fleet | null;
}

export interface Upstreams {
  /** Every configured upstream, in config order. */
  all: Map<string, Upstream>;
  /** Those with VMs. */
  providers: Map<string, Provider>;
}

export class UpstreamRegistry {
  private readonly byKind: ReadonlyMap<string, AnyUpstreamKind>;
  /** `logger` is the root one here; each upstream gets its own child. */
  private readonly deps: UpstreamDeps;

  /** @param kinds the kinds that may be configured. @default upstreamKinds (src/upstreams/kinds.ts) */
  constructor(deps: UpstreamRegistryDeps, kinds: readonly AnyUpstreamKind[] = upstreamKinds) {
    this.byKind = new Map(kinds.map((k) => [k.kind, k]));
    this.deps = { logger: deps.logger, events: deps.events, metrics: deps.metrics, clock: deps.clock ?? systemClock, ...(deps.fleet ? { fleet: deps.fleet } : {}) };
  }

  /** Build one upstream per entry, in order. Entries are validated configs, so their kind is registered. */
  create(entries: readonly { kind: string; name: string }[]): Upstreams {
    const all = new Map<string, Upstream>();
    const providers = new Map<string, Provider>();
    for (const entry of entries) {
      const upstream = this.descriptor(entry.kind).create(entry, { ...this.deps, logger: this.deps.logger.child({ provider: entry.name }) });
      all.set(entry.name, upstream);
      if (this.isProvider(upstream)) providers.set(entry.name, upstream);
    }
    return { all, providers };
  }

  /** True when the upstream's kind lists VMs (its descriptor's `provides.vms`). */
  isProvider(upstream: Upstream): upstream is Provider {
    return this.descriptor(upstream.kind).provides.vms;
  }

  private descriptor(kind: string): AnyUpstreamKind {
    const descriptor = this.byKind.get(kind);
    if (!descriptor) throw new Error(`upstream kind "${kind}" is not registered`);
    return descriptor;
  }
}
