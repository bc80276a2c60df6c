/**
 * The one shape of an upstream kind. Each folder under src/upstreams/<kind>/ exports one descriptor;
 * src/upstreams/kinds.ts lists them. The config union, the registry, the GraphQL kind values and the
 * event sources are all derived from that list, so adding a kind is one folder and one line there.
 */
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Clock } from '../clock.js';
import type { EventPublisher } from '../events/types.js';
import type { Logger } from '../logger.js';
import type { Upstream } from './types.js';

/** What every upstream gets from the gateway; nothing else is shared between kinds. */
export interface UpstreamDeps {
  /** Already bound to the provider (`{ provider: <name> }`). */
  logger: Logger;
  /** Where the upstream publishes its events, including `upstreams.connected/disconnected.<name>`. */
  events: EventPublisher;
  /** The gateway's metrics registry. */
  metrics: Registry;
  clock: Clock;
}

/** What a kind offers; the GraphQL layer and the registry read it instead of probing instances. */
export interface UpstreamCapabilities {
  /** Lists VMs (`vms`, `vm`); the instance is then a Provider. */
  vms: boolean;
  /** Opens consoles (`consoleUrl`, `console`). */
  consoles: boolean;
  /** Publishes events on the bus. */
  events: boolean;
}

export interface UpstreamKindDescriptor<Kind extends string = string, Schema extends z.ZodType<{ kind: Kind; name: string }> = z.ZodType<{ kind: Kind; name: string }>> {
  /** Config `kind` value, lowercase (`cloudtower`). GraphQL shows it upper-cased (`CLOUDTOWER`). */
  readonly kind: Kind;
  /** The zod schema of one `providers[]` entry of this kind, with `kind: z.literal(kind)` and every default. */
  readonly configSchema: Schema;
  readonly provides: UpstreamCapabilities;
  /** Build the upstream from its validated config. Must not do I/O before the first call (start-up stays fast). */
  create(config: z.infer<Schema>, deps: UpstreamDeps): Upstream;
}
