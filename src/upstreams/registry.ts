/**
 * Where upstream kinds are registered: one line per kind. Each factory turns a validated provider
 * config into an Upstream, which is also a Provider when the upstream has VMs.
 */
import type { GatewayConfig, ProviderConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import { Registry } from 'prom-client';
import { systemClock } from '../clock.js';
import type { UpstreamDeps as KindDeps } from './descriptor.js';
import { createAbiquoProvider } from './abiquo/provider.js';
import { CloudTowerProvider } from './cloudtower/provider.js';
import { DrpEventSource } from './drp/source.js';
import type { Provider, Upstream } from './types.js';

export interface UpstreamDeps {
  logger: Logger;
  bus: EventBus;
}

type Factory<K extends ProviderConfig['kind']> = (config: Extract<ProviderConfig, { kind: K }>, deps: UpstreamDeps) => Upstream | Provider;

const factories: { [K in ProviderConfig['kind']]: Factory<K> } = {
  cloudtower: (config) => new CloudTowerProvider(config),
  abiquo: (config, deps) => createAbiquoProvider(config, kindDeps(deps)),
  drp: (config, deps) => new DrpEventSource(config, kindDeps(deps)),
};

/** Transitional until the descriptor registry: no kind registers metrics yet, so a private registry stands in. */
function kindDeps(deps: UpstreamDeps): KindDeps & { events: EventBus } {
  return { logger: deps.logger, events: deps.bus, metrics: new Registry(), clock: systemClock };
}

export function isProvider(upstream: Upstream): upstream is Provider {
  return typeof (upstream as Partial<Provider>).listVms === 'function';
}

export interface Upstreams {
  /** Every configured upstream, in config order. */
  all: Map<string, Upstream>;
  /** Those with VMs. */
  providers: Map<string, Provider>;
}

export function createUpstreams(config: GatewayConfig, deps: UpstreamDeps): Upstreams {
  const all = new Map<string, Upstream>();
  const providers = new Map<string, Provider>();
  for (const pc of config.providers) {
    const factory = factories[pc.kind] as Factory<typeof pc.kind>;
    const upstream = factory(pc as never, { ...deps, logger: deps.logger.child({ provider: pc.name }) });
    all.set(pc.name, upstream);
    if (isProvider(upstream)) providers.set(pc.name, upstream);
  }
  return { all, providers };
}
