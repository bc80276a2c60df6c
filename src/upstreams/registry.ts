/**
 * Where provider kinds are registered: one line per kind. Each factory turns a validated provider
 * config into a Provider.
 */
import type { GatewayConfig, ProviderConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { EventPublisher } from '../events/types.js';
import type { Logger } from '../logger.js';
import { CloudTowerProvider } from './cloudtower/provider.js';
import type { Provider } from './types.js';

export interface ProviderDeps {
  logger: Logger;
  events: EventPublisher;
}

type Factory<K extends ProviderConfig['kind']> = (config: Extract<ProviderConfig, { kind: K }>, deps: ProviderDeps) => Provider;

const factories: { [K in ProviderConfig['kind']]?: Factory<K> } = {
  cloudtower: (config) => new CloudTowerProvider(config),
};

export function createProviders(config: GatewayConfig, deps: ProviderDeps): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  for (const [i, pc] of config.providers.entries()) {
    const factory = factories[pc.kind] as Factory<typeof pc.kind> | undefined;
    if (!factory) throw new ConfigError([`providers.${i}.kind: "${pc.kind}" is not supported by this build`]);
    providers.set(pc.name, factory(pc as never, { ...deps, logger: deps.logger.child({ provider: pc.name }) }));
  }
  return providers;
}
