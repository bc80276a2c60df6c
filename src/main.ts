#!/usr/bin/env node
/**
 * CLI entry. With --config, serves real upstreams; without, starts the embedded default: simulated
 * upstreams on loopback plus the gateway, so `npm start` works on a fresh machine.
 */
import { parseArgs } from 'node:util';
import { startGateway, type RunningGateway } from './app.js';
import { loadConfigFile } from './config.js';
import { startEmbedded } from './embedded.js';
import { ConfigError } from './errors.js';
import { createLogger } from './logger.js';

const USAGE = `usage: console-gateway [--config FILE]

  --config FILE   YAML or JSON config (see README "Configuration"). Without it, the gateway starts
                  with simulated upstreams on 127.0.0.1 (the embedded default).
  --help          this text

Environment: CONSOLE_GATEWAY_HOST, CONSOLE_GATEWAY_PORT, CONSOLE_GATEWAY_PUBLIC_URL, CONSOLE_GATEWAY_LOG_LEVEL,
             CONSOLE_GATEWAY_PROVIDER_<NAME>_{URL,USERNAME,PASSWORD,TOKEN}`;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  let running: { close(): Promise<void> };
  const configPath = args.values.config;
  if (configPath) {
    const config = loadConfigFile(configPath);
    const logger = createLogger(config.log.level);
    const gateway: RunningGateway = await startGateway(config, { logger });
    logger.info({ url: gateway.url, providers: [...gateway.gateway.providers.keys()] }, 'console-gateway listening');
    running = gateway;
  } else {
    const logger = createLogger(process.env.CONSOLE_GATEWAY_LOG_LEVEL ?? 'info');
    const embedded = await startEmbedded({ logger, env: process.env });
    process.stdout.write(embedded.banner);
    running = embedded;
  }

  const stop = (signal: string): void => {
    process.stderr.write(`${signal}: shutting down\n`);
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`console-gateway: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') {
    process.stderr.write('console-gateway: the port is already in use; set CONSOLE_GATEWAY_PORT or server.port\n');
    process.exit(1);
  }
  process.stderr.write(`console-gateway: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
