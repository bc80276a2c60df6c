/**
 * Assembles a running gateway from a validated config: providers, the domain layer, the HTTP server.
 * main.ts (the CLI), the embedded default and the tests all start the gateway through here. Also
 * where the gateway stops (`shutdown`) and takes a new config while running (`reload`).
 */
import { isDeepStrictEqual } from 'node:util';
import { GatewayAccess } from './auth/access.js';
import type { GatewayConfig } from './config.js';
import { Gateway, type ConsoleUrlMinter } from './gateway.js';
import type { Logger } from './logger.js';
import { startHttpServer, type RunningHttpServer } from './server.js';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createGatewayConsole, CONSOLE_PATH } from './console/gateway-console.js';
import { mountDemo } from './demo/routes.js';
import { CountingEventBus } from './observability/event-bus.js';
import { GatewayMetrics } from './observability/metrics.js';
import type { AnyUpstreamKind } from './upstreams/descriptor.js';
import { UpstreamRegistry } from './upstreams/registry.js';
import type { Provider, Upstream } from './upstreams/types.js';

export interface StartGatewayOptions {
  logger: Logger;
  /** Defaults for the embedded mode: introspection and demo page on unless the config says otherwise. */
  embedded?: boolean;
  /** The upstream kinds `config` was validated with (a test adds its own). @default upstreamKinds (src/upstreams/kinds.ts) */
  kinds?: readonly AnyUpstreamKind[];
}

export interface ShutdownOptions {
  /** How long console sessions may go on before they are closed with 1001, milliseconds. @default config `shutdown.consoleGraceSeconds` × 1000 */
  consoleGraceMs?: number;
}

/** What a reload changed. */
export interface ReloadReport {
  /** Providers created (new names, or a changed config under an existing name). */
  started: string[];
  /** Providers closed (removed, or replaced by a changed config). */
  stopped: string[];
  /** Changed config keys that take effect only after a restart. */
  needsRestart: string[];
}

export interface RunningGateway {
  gateway: Gateway;
  http: RunningHttpServer;
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  /** The config in force (the latest one a reload accepted). */
  config(): GatewayConfig;
  /**
   * Swap in a new validated config without dropping live consoles: providers whose config changed
   * (or that are new) are started, the gateway switches to them, and then the replaced ones are
   * closed; limits and the log level apply to the next request. `server.*`, `console.*` and the
   * graphql-ws timers need a restart (listed in the report). Auth (keys, JWT, allowed origins,
   * per-caller caps) is swapped too. Throws, keeping the old config, when a new provider or the new
   * auth settings cannot be built.
   */
  reload(next: GatewayConfig): Promise<ReloadReport>;
  /** Called after each accepted reload (e.g. to swap auth keys). Returns a function that removes it. */
  onReload(listener: (next: GatewayConfig, previous: GatewayConfig) => void): () => void;
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
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  /** Called on every publish; the shutdown waits on it for console sessions to end. */
  let onPublish: () => void = () => {};
  let gatewayMetrics: GatewayMetrics | null = null;
  const bus = new CountingEventBus({ onListenerError: (err) => logger.error({ err }, 'event bus listener failed') }, (source) => {
    gatewayMetrics?.eventPublished(source);
    onPublish();
  });
  gatewayMetrics = new GatewayMetrics(metrics, { eventSubscribers: () => bus.subscriberCount });
  const observed = gatewayMetrics;
  // Client authentication, Origin allowlist and per-caller caps; one instance shared by the HTTP
  // server and the console endpoint, so a reload (access.update) reaches both.
  const access = new GatewayAccess(config, { logger });
  const registry = new UpstreamRegistry({ logger, events: bus, metrics }, opts.kinds);
  const gateway = new Gateway(registry.create(config.providers), bus);
  let http: RunningHttpServer | undefined;
  const consoles = createGatewayConsole({ config, gateway, logger, metrics, access, publicUrl: () => config.server.publicUrl ?? http!.url });
  const minter: ConsoleUrlMinter = {
    mint: async (req) => {
      const minted = await consoles.minter.mint(req);
      observed.ticketMinted();
      return minted;
    },
  };
  gateway.consoleUrls = minter;
  const demo = config.server.demo ?? opts.embedded ?? false;
  // The server reads these on every request; reload assigns new values into this same object.
  const liveLimits = { ...config.limits };
  try {
    http = await startHttpServer({
      gateway,
      logger,
      metrics,
      gatewayMetrics: observed,
      host: config.server.host,
      port: config.server.port,
      introspection: config.server.introspection ?? opts.embedded ?? false,
      limits: liveLimits,
      access,
      upstreamKinds: opts.kinds,
      upgradeRoutes: [{ path: CONSOLE_PATH, handleUpgrade: consoles.endpoint.handleUpgrade }],
      ...(demo ? { routes: mountDemo } : {}),
    });
  } catch (err) {
    await consoles.close();
    await gateway.close();
    observed.close();
    throw err;
  }
  const running = http;
  let current = config;
  const reloadListeners = new Set<(next: GatewayConfig, previous: GatewayConfig) => void>();
  /** One reload at a time: a second SIGHUP waits for the first. */
  let reloading: Promise<unknown> = Promise.resolve();

  /** Resolves when no console session is left, or after `ms`. */
  const consolesEnded = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0 || consoles.endpoint.sessions() === 0) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        onPublish = () => {};
        resolve();
      }
      // A session's end is published on the bus (consoles.closed): check then, not on a poll.
      onPublish = () => {
        if (consoles.endpoint.sessions() === 0) done();
      };
    });

  let stopping: Promise<void> | null = null;
  const shutdown = (shutdownOpts: ShutdownOptions = {}): Promise<void> =>
    (stopping ??= (async () => {
      const graceMs = shutdownOpts.consoleGraceMs ?? current.shutdown.consoleGraceSeconds * 1000;
      await running.drain();
      if (consoles.endpoint.sessions() > 0) logger.info({ sessions: consoles.endpoint.sessions(), graceMs }, 'shutting down: waiting for console sessions');
      await consolesEnded(graceMs);
      // Closes what is left with 1001. Upgraded sockets are not tracked by the HTTP server's drain.
      await consoles.close();
      await running.close();
      await gateway.close();
      observed.close();
    })());

  const reload = (next: GatewayConfig): Promise<ReloadReport> => {
    const attempt = reloading.then(() => swapConfig(next));
    reloading = attempt.catch(() => undefined);
    return attempt;
  };

  async function swapConfig(next: GatewayConfig): Promise<ReloadReport> {
    if (stopping) throw new Error('the gateway is shutting down');
    const previous = current;
    const before = gateway.upstreams;
    const unchanged = (name: string): Upstream | undefined => {
      const was = previous.providers.find((p) => p.name === name);
      const now = next.providers.find((p) => p.name === name);
      return was && now && isDeepStrictEqual(was, now) ? before.get(name) : undefined;
    };
    const changed = next.providers.filter((p) => !unchanged(p.name));
    const created = registry.create(changed);
    try {
      // Auth keys, JWT settings, allowed origins and per-caller caps; throws (and changes nothing) when they cannot be built.
      access.update(next);
    } catch (err) {
      await Promise.allSettled([...created.all.values()].map((u) => u.close()));
      throw err;
    }
    const all = new Map<string, Upstream>();
    const providers = new Map<string, Provider>();
    for (const pc of next.providers) {
      const upstream = unchanged(pc.name) ?? created.all.get(pc.name)!;
      all.set(pc.name, upstream);
      if (registry.isProvider(upstream)) providers.set(pc.name, upstream);
    }
    gateway.replaceUpstreams({ all, providers });
    Object.assign(liveLimits, next.limits);
    logger.level = next.log.level;
    current = next;
    const retired = [...before].filter(([name, u]) => all.get(name) !== u);
    // After the swap: live console sessions hold their own upstream sockets, so closing a provider does not end them.
    await Promise.allSettled(retired.map(([, u]) => u.close()));
    for (const listener of reloadListeners) {
      try {
        listener(next, previous);
      } catch (err) {
        logger.error({ err }, 'reload listener failed');
      }
    }
    return {
      started: changed.map((p) => p.name),
      stopped: retired.map(([name]) => name),
      needsRestart: restartOnlyChanges(previous, next),
    };
  }

  return {
    gateway,
    http: running,
    url: running.url,
    config: () => current,
    reload,
    onReload: (listener) => {
      reloadListeners.add(listener);
      return () => reloadListeners.delete(listener);
    },
    shutdown,
    close: () => shutdown({ consoleGraceMs: 0 }),
  };
}

/** Keys of `server` a reload applies (through GatewayAccess.update). */
const LIVE_SERVER_KEYS = new Set(['allowedOrigins']);

/** Config keys a reload cannot apply to a running gateway. */
function restartOnlyChanges(previous: GatewayConfig, next: GatewayConfig): string[] {
  const keys: string[] = [];
  for (const section of ['server', 'console'] as const) {
    const was = previous[section] as Record<string, unknown>;
    const now = next[section] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
      if (section === 'server' && LIVE_SERVER_KEYS.has(key)) continue;
      if (!isDeepStrictEqual(was[key], now[key])) keys.push(`${section}.${key}`);
    }
  }
  for (const key of ['wsConnectionInitTimeoutMs', 'wsKeepAliveMs'] as const) {
    if (previous.limits[key] !== next.limits[key]) keys.push(`limits.${key}`);
  }
  return keys;
}
