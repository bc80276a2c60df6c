/**
 * Assembles a running gateway from a validated config: providers, the domain layer, the HTTP server.
 * main.ts (the CLI), the embedded default and the tests all start the gateway through here.
 */
import type { GatewayConfig } from './config.js';
import { Gateway } from './gateway.js';
import type { Logger } from './logger.js';
import { startHttpServer, type RunningHttpServer } from './server.js';
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
  let http: RunningHttpServer;
  try {
    http = await startHttpServer({
      gateway,
      logger,
      host: config.server.host,
      port: config.server.port,
      introspection: config.server.introspection ?? opts.embedded ?? false,
    });
  } catch (err) {
    await gateway.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    gateway,
    http,
    url: http.url,
    close: () =>
      (closing ??= (async () => {
        await http.close();
        await gateway.close();
      })()),
  };
}
