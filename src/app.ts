/**
 * Assembles a running gateway from a validated config, in dependency order and by constructor
 * injection: metrics and the event bus, upstreams, auth, console tickets and their URL minter,
 * the domain layer (Gateway), the console endpoint, the HTTP server. main.ts (the CLI), the
 * embedded default and the tests all start the gateway through here. Also where the gateway stops
 * (`shutdown`); taking a new config while running is reload.ts.
 */
import { GatewayAccess } from './auth/access.js';
import { systemClock, type Clock } from './clock.js';
import type { GatewayConfig } from './config.js';
import { Gateway } from './gateway.js';
import type { Logger } from './logger.js';
import { startHttpServer, type RunningHttpServer } from './server.js';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createGatewayConsole } from './console/gateway-console.js';
import { ConsoleSessionDirectory } from './console/session-directory.js';
import { TicketService } from './console/tickets.js';
import { CONSOLE_PATH, TicketUrlMinter } from './console/url-minter.js';
import { mountDemo } from './demo/routes.js';
import { RecordingService } from './recording/recorder.js';
import { RecordingCatalog, attachRecordingCatalog } from './recording/catalog.js';
import { mountRecordings } from './recording/routes.js';
import { CountingEventBus } from './observability/event-bus.js';
import { GatewayMetrics } from './observability/metrics.js';
import { ConfigReloader, type ReloadListener, type ReloadReport } from './reload.js';
import type { AnyUpstreamKind } from './upstreams/descriptor.js';
import { UpstreamRegistry } from './upstreams/registry.js';
import { connectFleet, type Fleet } from './fleet/redis.js';
import { RedisEventLog } from './fleet/events.js';
import { MemoryEventLog } from './events/log.js';
import { observeResumes } from './events/resume-metrics.js';
import { FleetCaps } from './fleet/caps.js';
import { RedisTicketBudget } from './fleet/rate-limit.js';
import { RedisTicketStore } from './console/redis-ticket-store.js';
import { UpstreamHealthMonitor } from './observability/upstream-health.js';
import { ErrorCode } from './errors.js';

export type { ReloadReport } from './reload.js';

export interface StartGatewayOptions {
  logger: Logger;
  /** Defaults for the embedded mode: introspection and demo page on unless the config says otherwise. */
  embedded?: boolean;
  /** Time for console tickets, the minting budget, session times, the shutdown grace and the upstreams. @default systemClock */
  clock?: Clock;
  /** This replica's id in a fleet (leases, per-replica counts). @default a random UUID */
  replicaId?: string;
  /** The upstream kinds `config` was validated with (a test adds its own). @default upstreamKinds (src/upstreams/kinds.ts) */
  kinds?: readonly AnyUpstreamKind[];
}

export interface ShutdownOptions {
  /** How long console sessions may go on before they are closed with 1001, milliseconds. @default config `shutdown.consoleGraceSeconds` × 1000 */
  consoleGraceMs?: number;
}

export interface RunningGateway {
  gateway: Gateway;
  /** The shared Redis of a fleet; null without `redis` in the config (everything in this process). */
  fleet: Fleet | null;
  http: RunningHttpServer;
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  /** The config in force (the latest one a reload accepted). */
  config(): GatewayConfig;
  /**
   * Swap in a new validated config without dropping live consoles (see reload.ts). Throws, keeping
   * the old config, when a new provider or the new auth settings cannot be built.
   */
  reload(next: GatewayConfig): Promise<ReloadReport>;
  /** Called after each accepted reload (e.g. to swap auth keys). Returns a function that removes it. */
  onReload(listener: ReloadListener): () => void;
  /**
   * SIGTERM: /readyz 503 and no new connections at once, graphql-ws clients closed with 1001,
   * console sessions given the grace period and then closed with 1001, in-flight HTTP finished,
   * upstreams closed.
   */
  shutdown(opts?: ShutdownOptions): Promise<void>;
  /** `shutdown` with no console grace. */
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, opts: StartGatewayOptions): Promise<RunningGateway> {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  // First: every shared piece of state below is built on the fleet's store when there is one.
  const fleet = config.redis ? await connectFleet(config.redis, { logger, ...(opts.replicaId ? { replicaId: opts.replicaId } : {}) }) : null;
  let listening: RunningHttpServer | undefined;
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  // The metrics read the bus's subscriber count and the graphql-ws connections only when scraped,
  // after both exist (the server is started last, as it needs the rest).
  const observed = new GatewayMetrics(metrics, {
    eventSubscribers: () => bus.subscriberCount,
    graphqlWsConnections: () => listening?.graphqlWsConnections() ?? 0,
    ...(fleet ? { fleetStoreUp: () => fleet.reachable() } : {}),
  });
  // In a fleet the bus delivers through the shared Redis Stream (every replica's events, one order); otherwise a ring in memory.
  const eventLog = fleet ? new RedisEventLog(fleet, { ...config.events, logger }) : new MemoryEventLog(config.events);
  const bus = new CountingEventBus(
    { onListenerError: (err) => logger.error({ err }, 'event bus listener failed'), log: eventLog, onReplay: observeResumes(metrics, logger) },
    (source) => observed.eventPublished(source),
  );
  // Client authentication, Origin allowlist and per-caller caps; one instance shared by the HTTP
  // server and the console endpoint, so a reload (access.update) reaches both.
  // In a fleet the caps are counted across replicas; `access.limits` (live across reloads) stays their source.
  let fleetCaps: { consoles: FleetCaps; wsConnections: FleetCaps } | null = null;
  const access: GatewayAccess = new GatewayAccess(config, {
    logger,
    ...(fleet
      ? {
          caps: (fleetCaps = {
            consoles: new FleetCaps({ fleet, name: 'consoles', limits: () => access.limits.consoles, logger }),
            wsConnections: new FleetCaps({ fleet, name: 'ws', limits: () => access.limits.wsConnections, logger }),
          }),
        }
      : {}),
  });
  const registry = new UpstreamRegistry({ logger, events: bus, metrics, clock, fleet }, opts.kinds);
  const upstreamsOf = (c: GatewayConfig) => registry.create(c.providers);
  const ticketTtlMs = config.console.ticketTtlSeconds * 1000;
  const tickets = new TicketService({
    ttlMs: ticketTtlMs,
    reusable: config.console.reusableTickets,
    now: () => clock.now(),
    // In a fleet any replica redeems what another minted.
    ...(fleet ? { store: new RedisTicketStore({ redis: fleet.redis, now: () => clock.now(), retainAfterExpiryMs: Math.max(ticketTtlMs, 60_000) }) } : {}),
  });
  const minter = new TicketUrlMinter({
    tickets,
    limits: () => access.limits.tickets,
    ...(fleet ? { budget: new RedisTicketBudget({ redis: fleet.redis, limits: () => access.limits.tickets }) } : {}),
    clock,
    // Minting needs a listening server (a request reached it); the port is known by then.
    publicUrl: () => config.server.publicUrl ?? listening!.url,
    onMinted: () => observed.ticketMinted(),
  });
  const sessionDirectory = new ConsoleSessionDirectory({ endedKept: () => config.console.endedSessionsKept });
  const gateway = new Gateway(upstreamsOf(config), bus, minter, sessionDirectory);
  // Recording (README "Recording"): the writer hooks into console sessions, the catalog serves GraphQL and /recordings/.
  const recordings = new RecordingService({ config: config.recording, logger, metrics, now: () => clock.now() });
  const recordingCatalog = new RecordingCatalog({
    dir: () => recordings.dir,
    viewers: () => {
      const auth = reloader?.current.auth ?? config.auth;
      return auth === undefined || auth.mode === 'none' ? null : auth.recordingViewers;
    },
    publicUrl: () => config.server.publicUrl ?? listening!.url,
    playbackTtlMs: () => (reloader?.current ?? config).recording.playbackUrlTtlSeconds * 1000,
    maxScanned: () => (reloader?.current ?? config).recording.maxScannedPerListing,
    onScanCut: (scanned) => recordings.listingCut(scanned),
    statusInMemory: (dir, id) => recordings.statusInMemory(dir, id),
    now: () => clock.now(),
  });
  attachRecordingCatalog(gateway, recordingCatalog);
  const consoles = createGatewayConsole({ config, tickets, targets: gateway, events: bus, logger, metrics, access, clock, directory: sessionDirectory, recordings });
  const demo = config.server.demo ?? opts.embedded ?? false;
  // The server reads these on every request; a reload assigns new values into this same object.
  const liveLimits = { ...config.limits };
  try {
    listening = await startHttpServer({
      gateway,
      logger,
      metrics,
      gatewayMetrics: observed,
      host: config.server.host,
      port: config.server.port,
      introspection: config.server.introspection ?? opts.embedded ?? false,
      limits: liveLimits,
      access,
      ...(fleet
        ? {
            readiness: () => {
              const up = fleet.reachable();
              observed.storeUp(up);
              return up ? null : ErrorCode.StoreUnavailable;
            },
          }
        : {}),
      upgradeRoutes: [{ path: CONSOLE_PATH, handleUpgrade: consoles.endpoint.handleUpgrade }],
      ...(opts.kinds ? { upstreamKinds: opts.kinds } : {}),
      routes: (app) => {
        mountRecordings(app, recordingCatalog);
        if (demo) mountDemo(app);
      },
    });
  } catch (err) {
    recordings.close();
    await consoles.close();
    await gateway.close();
    observed.close();
    await fleetCaps?.consoles.close();
    await fleetCaps?.wsConnections.close();
    await fleet?.close();
    throw err;
  }
  const http = listening;
  const reloader = new ConfigReloader(config, {
    gateway,
    access,
    liveLimits,
    recordings,
    logger,
    createUpstreams: upstreamsOf,
    isProvider: (u) => registry.isProvider(u),
  });
  const upstreamHealth = new UpstreamHealthMonitor({ gateway, metrics: observed, logger, clock, intervalMs: () => reloader.current.server.upstreamCheckIntervalSeconds * 1000 });

  /** Resolves when no console session is left, or after `ms`. */
  const consolesEnded = (ms: number): Promise<void> => {
    if (ms <= 0) return Promise.resolve();
    let timer: unknown;
    const grace = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, ms);
    });
    return Promise.race([consoles.endpoint.whenIdle(), grace]).finally(() => clock.clearTimeout(timer));
  };

  let stopping: Promise<void> | null = null;
  const shutdown = (shutdownOpts: ShutdownOptions = {}): Promise<void> =>
    (stopping ??= (async () => {
      reloader.stop();
      const graceMs = shutdownOpts.consoleGraceMs ?? reloader.current.shutdown.consoleGraceSeconds * 1000;
      await http.drain();
      if (consoles.endpoint.sessions() > 0) logger.info({ sessions: consoles.endpoint.sessions(), graceMs }, 'shutting down: waiting for console sessions');
      await consolesEnded(graceMs);
      // Closes what is left with 1001. Upgraded sockets are not tracked by the HTTP server's drain.
      await consoles.close();
      recordings.close();
      await http.close();
      upstreamHealth.stop();
      await gateway.close();
      await tickets.close();
      await fleetCaps?.consoles.close();
      await fleetCaps?.wsConnections.close();
      observed.close();
      // Last: closing consoles and upstreams above may still publish or count through it.
      await fleet?.close();
    })());

  return {
    gateway,
    fleet,
    http,
    url: http.url,
    config: () => reloader.current,
    reload: (next) => reloader.reload(next),
    onReload: (listener) => reloader.onReload(listener),
    shutdown,
    close: () => shutdown({ consoleGraceMs: 0 }),
  };
}
