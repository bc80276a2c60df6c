/**
 * The one shape of an upstream kind. Each folder under src/upstreams/<kind>/ exports one descriptor;
 * src/upstreams/kinds.ts lists them. The config union, the registry, the GraphQL kind values and the
 * event sources are all derived from that list, so adding a kind is one folder and one line there.
 */
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Clock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import type { Fleet } from '../fleet/redis.js';
import type { EventPublisher } from '../events/types.js';
import type { Logger } from '../logger.js';
import type { Provider, Upstream } from './types.js';

/**
 * The part of the event bus an upstream sees: it publishes, and an upstream that registers interest
 * upstream (DRP) follows the bus's subscribers so it asks only for what somebody reads.
 */
export type UpstreamEvents = EventPublisher & Pick<EventBus, 'onSubscribe' | 'onUnsubscribe'>;

/** What every upstream gets from the gateway; nothing else is shared between kinds. */
export interface UpstreamDeps {
  /** Already bound to the provider (`{ provider: <name> }`). */
  logger: Logger;
  /** Where the upstream publishes its events, including `upstreams.connected/disconnected.<name>`. */
  events: UpstreamEvents;
  /** The gateway's metrics registry. */
  metrics: Registry;
  clock: Clock;
  /** The fleet's shared Redis when `redis` is configured: a kind may share its work across replicas (Abiquo's one walker). */
  fleet?: Fleet;
}

/** The dependencies of an upstream (or a part of one) that only publishes events. */
export type PublishingUpstreamDeps = Omit<UpstreamDeps, 'events'> & { events: EventPublisher };

/** What a kind offers; the GraphQL layer and the registry read it instead of probing instances. */
export interface UpstreamCapabilities {
  /** Lists VMs (`vms`, `vm`); `create` then returns a Provider. */
  vms: boolean;
  /** Opens consoles (`consoleUrl`, `console`). */
  consoles: boolean;
  /** Publishes events on the bus, with the upper-cased kind as their `source` (`DRP`). */
  events: boolean;
}

/** A zod schema of one `providers[]` entry. */
export type UpstreamConfigSchema<Kind extends string = string> = z.ZodType<{ kind: Kind; name: string }>;

export interface UpstreamKindDescriptor<
  Kind extends string = string,
  Schema extends UpstreamConfigSchema<Kind> = UpstreamConfigSchema<Kind>,
  Provides extends UpstreamCapabilities = UpstreamCapabilities,
> {
  /**
   * Config `kind` value: lowercase letters, digits and `_` (`cloudtower`). GraphQL shows it
   * upper-cased (`CLOUDTOWER`), in `ProviderKind` and, for kinds that publish events, in `EventSource`.
   */
  readonly kind: Kind;
  /** The zod schema of one `providers[]` entry of this kind, with `kind: z.literal(kind)` and every default. */
  readonly configSchema: Schema;
  readonly provides: Provides;
  /** Build the upstream from its validated config. Must not do I/O before the first call (start-up stays fast). */
  create(config: z.infer<Schema>, deps: UpstreamDeps): Provides['vms'] extends true ? Provider : Upstream;
}

/** Any descriptor, as lists of kinds hold them. */
export type AnyUpstreamKind = UpstreamKindDescriptor<string, UpstreamConfigSchema, UpstreamCapabilities>;

/**
 * Declares a descriptor with its literal types kept (the kind name and what it provides), so the
 * kind list can derive `ProviderKind` and `EventSource` from it, and `create` is typed from the schema.
 */
export function defineUpstreamKind<const Kind extends string, Schema extends UpstreamConfigSchema<Kind>, const Provides extends UpstreamCapabilities>(
  descriptor: UpstreamKindDescriptor<Kind, Schema, Provides>,
): UpstreamKindDescriptor<Kind, Schema, Provides> {
  return descriptor;
}
