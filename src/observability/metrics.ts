/**
 * The gateway's own Prometheus metrics (beside the console proxy's, in console/metrics.ts, and the
 * process metrics): HTTP requests, GraphQL operations, upstream calls, event subscribers and rates,
 * ticket mints. One instance per registry; `close()` detaches it from the upstream-call channel.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BoundedLabels } from './operation-names.js';
import { upstreamCallChannel, type UpstreamCallRecord } from './upstream-calls.js';
import { upstreamBoundChannel, type UpstreamBoundRecord } from './upstream-limits.js';

export type GraphQLOutcome = 'ok' | 'partial' | 'error' | 'rejected';
export type GraphQLTransport = 'http' | 'ws';

export interface GatewayMetricsSources {
  /** Event subscribers on the bus now (GraphQL `events` subscriptions and internal readers). */
  eventSubscribers: () => number;
  /** Open graphql-ws connections now; read when scraped. @default none (the gauge reads 0) */
  graphqlWsConnections?: () => number;
  /** With a fleet: whether its Redis answers now (read when scraped). @default none (no `fleet_store_up` gauge) */
  fleetStoreUp?: () => boolean;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class GatewayMetrics {
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly #httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly #operations: Counter<'operation' | 'type' | 'outcome' | 'transport'>;
  readonly #operationDuration: Histogram<'operation' | 'type' | 'outcome' | 'transport'>;
  readonly #upstreamDuration: Histogram<'provider' | 'operation' | 'outcome'>;
  readonly #upstreamErrors: Counter<'provider' | 'operation' | 'kind'>;
  readonly #upstreamBounds: Counter<'provider' | 'bound'>;
  readonly #eventsPublished: Counter<'source'>;
  readonly #ticketsMinted: Counter;
  readonly #requestsRefused: Counter<'reason' | 'transport'>;
  readonly #wsSocketErrors: Counter<'reason'>;
  readonly #upstreamUp: Gauge<'upstream' | 'kind'>;
  readonly #storeUp: Gauge;
  readonly #operationNames = new BoundedLabels();
  readonly #onUpstreamCall = (message: unknown): void => this.upstreamCall(message as UpstreamCallRecord);
  readonly #onUpstreamBound = (message: unknown): void => this.upstreamBound(message as UpstreamBoundRecord);
  readonly graphqlWsConnections: () => number;

  constructor(registry: Registry, sources: GatewayMetricsSources) {
    const registers = [registry];
    this.graphqlWsConnections = sources.graphqlWsConnections ?? (() => 0);
    this.#httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route and status (WebSocket upgrades excluded).',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to the end of the response, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#operations = new Counter({
      name: 'graphql_operations_total',
      help: 'GraphQL operations, by operation name, type (query, mutation, subscription, unknown), outcome (ok, partial, error, rejected) and transport (http, ws).',
      labelNames: ['operation', 'type', 'outcome', 'transport'],
      registers,
    });
    this.#operationDuration = new Histogram({
      name: 'graphql_operation_duration_seconds',
      help: 'GraphQL operation duration (for subscriptions: how long they were open).',
      labelNames: ['operation', 'type', 'outcome', 'transport'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#upstreamDuration = new Histogram({
      name: 'upstream_request_duration_seconds',
      help: 'Upstream HTTP requests, by provider, operation and outcome (ok, http_error, transport_error).',
      labelNames: ['provider', 'operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#upstreamErrors = new Counter({
      name: 'upstream_request_errors_total',
      help: 'Upstream HTTP requests that failed, by provider, operation and kind (http_error, transport_error).',
      labelNames: ['provider', 'operation', 'kind'],
      registers,
    });
    this.#upstreamBounds = new Counter({
      name: 'upstream_bounds_exceeded_total',
      help: 'Upstream peers that went past a configured bound, by provider and bound (response_bytes, request_deadline, sse_line_bytes, sse_event_bytes, stream_idle, message_bytes, malformed_message).',
      labelNames: ['provider', 'bound'],
      registers,
    });
    new Gauge({
      name: 'event_subscribers_active',
      help: 'Event bus subscribers now (GraphQL events subscriptions).',
      registers,
      collect() {
        this.set(sources.eventSubscribers());
      },
    });
    const wsConnections = (): number => this.graphqlWsConnections();
    new Gauge({
      name: 'graphql_ws_connections_active',
      help: 'Open graphql-ws (GraphQL over WebSocket) connections.',
      registers,
      collect() {
        this.set(wsConnections());
      },
    });
    this.#eventsPublished = new Counter({
      name: 'events_published_total',
      help: 'Events published on the event bus, by source (DRP, ABIQUO, GATEWAY).',
      labelNames: ['source'],
      registers,
    });
    this.#ticketsMinted = new Counter({
      name: 'console_tickets_minted_total',
      help: 'Console tickets minted by consoleUrl/console (GATEWAY mode).',
      registers,
    });
    this.#requestsRefused = new Counter({
      name: 'requests_refused_total',
      help: 'HTTP requests and WebSocket upgrades refused before routing, by reason (HOST_NOT_ALLOWED, ORIGIN_NOT_ALLOWED) and transport (http, upgrade).',
      labelNames: ['reason', 'transport'],
      registers,
    });
    this.#wsSocketErrors = new Counter({
      name: 'graphql_ws_socket_errors_total',
      help: 'graphql-ws sockets that failed at the WebSocket layer, by ws error code (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH for an oversized frame, ...).',
      labelNames: ['reason'],
      registers,
    });
    this.#upstreamUp = new Gauge({
      name: 'upstream_up',
      help: '1 when the upstream answered its last background health check (server.upstreamCheckIntervalSeconds), else 0.',
      labelNames: ['upstream', 'kind'],
      registers,
    });
    const storeUp = sources.fleetStoreUp;
    this.#storeUp = new Gauge({
      name: 'fleet_store_up',
      help: "1 while the fleet's Redis answers its background PING (redis.healthCheckIntervalMs), else 0; absent without a redis section.",
      registers: storeUp ? registers : [],
      collect() {
        if (storeUp) this.set(storeUp() ? 1 : 0);
      },
    });
    upstreamCallChannel.subscribe(this.#onUpstreamCall);
    upstreamBoundChannel.subscribe(this.#onUpstreamBound);
  }

  /** The latest background health check of every configured upstream (upstreams removed by a reload disappear). */
  upstreamHealth(statuses: Record<string, { ok: boolean; kind: string }>): void {
    this.#upstreamUp.reset();
    for (const [upstream, s] of Object.entries(statuses)) this.#upstreamUp.set({ upstream, kind: s.kind }, s.ok ? 1 : 0);
  }

  /** Whether the fleet's Redis answers (also read from `fleetStoreUp` at each scrape). */
  storeUp(up: boolean): void {
    this.#storeUp.set(up ? 1 : 0);
  }

  /** A request or upgrade refused by the Host or Origin check. */
  requestRefused(reason: string, transport: 'http' | 'upgrade'): void {
    this.#requestsRefused.inc({ reason, transport });
  }

  /** A graphql-ws socket's WebSocket-level error (the code comes from ws; a fixed, small set). */
  wsSocketError(reason: string): void {
    this.#wsSocketErrors.inc({ reason });
  }

  httpRequest(r: { method: string; route: string; status: number; durationMs: number }): void {
    const labels = { method: r.method, route: r.route, status: String(r.status) };
    this.#httpRequests.inc(labels);
    this.#httpDuration.observe(labels, r.durationMs / 1000);
  }

  graphqlOperation(r: { name: string | null | undefined; type: string; outcome: GraphQLOutcome; transport: GraphQLTransport; durationMs: number }): void {
    const labels = { operation: this.#operationNames.label(r.name), type: r.type, outcome: r.outcome, transport: r.transport };
    this.#operations.inc(labels);
    this.#operationDuration.observe(labels, r.durationMs / 1000);
  }

  upstreamCall(r: UpstreamCallRecord): void {
    this.#upstreamDuration.observe({ provider: r.provider, operation: r.operation, outcome: r.outcome }, r.durationMs / 1000);
    if (r.outcome !== 'ok') this.#upstreamErrors.inc({ provider: r.provider, operation: r.operation, kind: r.outcome });
  }

  upstreamBound(r: UpstreamBoundRecord): void {
    this.#upstreamBounds.inc({ provider: r.provider, bound: r.bound });
  }

  eventPublished(source: string): void {
    this.#eventsPublished.inc({ source });
  }

  ticketMinted(): void {
    this.#ticketsMinted.inc();
  }

  close(): void {
    upstreamCallChannel.unsubscribe(this.#onUpstreamCall);
    upstreamBoundChannel.unsubscribe(this.#onUpstreamBound);
  }
}
