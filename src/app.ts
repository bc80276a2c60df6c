/**
 * Assembles a running gateway from a validated config: providers, the domain layer, the HTTP server.
 * main.ts (the CLI), the embedded default and the tests all start the gateway through here.
 */
import type { GatewayConfig } from './config.js';
import { Gateway } from './gateway.js';
import type { Logger } from './logger.js';
import { startHttpServer, type RunningHttpServer } from './server.js';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createGatewayConsole, CONSOLE_PATH } from './console/gateway-console.js';
import { mountDemo } from './demo/routes.js';
import { EventBus } from './events/bus.js';
import { createUpstreams } from './upstreams/registry.js';

export interface StartGatewayOptions {
  logger: Logger;
  /** Defaults for the embedded mode: introspection and demo page on unless the config says otherwise. */
  embedded?: boolean;
}

export interface RunningGateway {
  gateway: Gateway;
  http: RunningHttpServer;
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, opts: StartGatewayOptions): Promise<RunningGateway> {
  const { logger } = opts;
  const bus = new EventBus({ onListenerError: (err) => logger.error({ err }, 'event bus listener failed') });
  const gateway = new Gateway(createUpstreams(config, { logger, bus }), bus);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  let http: RunningHttpServer | undefined;
  const consoles = createGatewayConsole({ config, gateway, logger, metrics, publicUrl: () => config.server.publicUrl ?? http!.url });
  gateway.consoleUrls = consoles.minter;
  const demo = config.server.demo ?? opts.embedded ?? false;
  try {
    http = await startHttpServer({
      gateway,
      logger,
      metrics,
      host: config.server.host,
      port: config.server.port,
      introspection: config.server.introspection ?? opts.embedded ?? false,
      limits: config.limits,
      upgradeRoutes: [{ path: CONSOLE_PATH, handleUpgrade: consoles.endpoint.handleUpgrade }],
      ...(demo ? { routes: mountDemo } : {}),
    });
  } catch (err) {
    await consoles.close();
    await gateway.close();
    throw err;
  }
  const running = http;
  let closing: Promise<void> | null = null;
  return {
    gateway,
    http: running,
    url: running.url,
    close: () =>
      (closing ??= (async () => {
        // Consoles first: upgraded sockets are not tracked by the HTTP server's drain.
        await consoles.close();
        await running.close();
        await gateway.close();
      })()),
  };
}
