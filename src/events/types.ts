/** Normalised events: every source (DRP, Abiquo, the gateway itself) publishes this one shape. */
import type { EventKind } from '../upstreams/kinds.js';

/**
 * The upstream kinds that publish events (their descriptors' `provides.events`), upper-cased, and the
 * gateway itself. A type-only import: the event layer does not load the upstreams.
 */
export type EventSource = Uppercase<EventKind> | 'GATEWAY';

export interface GatewayEvent {
  /**
   * A ULID (26 characters, Crockford base32): unique across every replica and process, ordered by the
   * time the gateway published it (strictly increasing within one process). Pass it back as
   * `events(after:)` to resume.
   */
  id: string;
  source: EventSource;
  /** Provider name from config; for GATEWAY events, the provider concerned or "gateway". */
  provider: string;
  /** ISO-8601 time the upstream stamped the event (or the gateway, when the upstream gave none). */
  time: string;
  /** DRP-style triple: type.action.key (e.g. machines.save.<uuid>, virtualmachines.DEPLOY_FINISH.abq:1/7). */
  type: string;
  action: string;
  key: string;
  principal: string | null;
  object: unknown;
  original: unknown;
}

/** What a source hands to the bus; the bus assigns `id`. */
export type GatewayEventInput = Omit<GatewayEvent, 'id'>;

export interface EventPublisher {
  publish(event: GatewayEventInput): void;
}
