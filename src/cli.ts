/**
 * The CLI (loaded by src/main.ts after tracing has started). With --config, serves real upstreams; without, starts the embedded default: simulated
 * upstreams on loopback plus the gateway, so `npm start` works on a fresh machine. The embedded default
 * is imported only when it is used, so a --config start loads no simulator module.
 */
import { parseArgs } from 'node:util';
import { startGateway, type RunningGateway } from './app.js';
import { loadConfigFile, type GatewayConfig } from './config.js';
import { ENV_RULE } from './config-env.js';
import { watchConfigFile } from './config-watch.js';
import { HASH_KEY_USAGE, runHashKeyCommand } from './auth/hash-key-command.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { stopTracing } from './observability/tracing.js';
import { missingNodeFlags } from './runtime-flags.js';

const USAGE = `usage: console-gateway [--config FILE]
       console-gateway print-schema    print the GraphQL schema (SDL) this version serves
       console-gateway schema-check    compare it with schema/baseline/schema.graphql (breaking changes fail)

  --config FILE   YAML or JSON config (see README "Configuration"). Without it, the gateway starts
                  with simulated upstreams on 127.0.0.1 (the embedded default).
  --help          this text

The config file is re-read on SIGHUP and when it changes (reload.watchFile); a bad one is refused
and the running config kept.

${ENV_RULE}`;

async function main(): Promise<void> {
  if (process.argv[2] === 'hash-key') {
    // Prints the sha256 hash to put under auth.apiKeys[].hash; the key itself is read from stdin.
    process.exitCode = await runHashKeyCommand(process.argv.slice(3), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    return;
  }
  if (process.argv[2] === 'print-schema' || process.argv[2] === 'schema-check') {
    const contract = await import('./graphql/contract.js');
    if (process.argv[2] === 'print-schema') process.stdout.write(contract.printGatewaySchema());
    else process.exitCode = await contract.runSchemaCheck(process.stdout);
    return;
  }
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n\n${HASH_KEY_USAGE}\n`);
    return;
  }

  // Embedded: close() also stops the simulators, after the gateway's own shutdown.
  let running: Pick<RunningGateway, 'shutdown' | 'close' | 'reload'>;
  let logger: Logger;
  const configPath = args.values.config;
  /** Prints where to go; called once the signal handlers are in place, so a signal sent on seeing it is handled. */
  let announce: () => void;
  let config: GatewayConfig | undefined;
  if (configPath) {
    config = loadConfigFile(configPath);
    logger = createLogger(config.log.level);
    const gateway: RunningGateway = await startGateway(config, { logger });
    const missingFlags = missingNodeFlags();
    if (missingFlags.length > 0) {
      logger.warn({ missingFlags }, 'node was started without the flags console-gateway runs with; consoles cost more CPU (README "Operations")');
    }
    announce = () => logger.info({ url: gateway.url, providers: [...gateway.gateway.providers.keys()] }, 'console-gateway listening');
    running = gateway;
  } else {
    logger = createLogger(process.env.CONSOLE_GATEWAY_LOG_LEVEL ?? 'info');
    const { startEmbedded } = await import('./simulators/embedded.js');
    const embedded = await startEmbedded({ logger, env: process.env });
    announce = () => process.stdout.write(embedded.banner);
    running = embedded;
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: shutting down\n`);
    logger.info({ signal }, 'shutting down');
    running
      .shutdown()
      .then(() => running.close())
      // Spans still queued are exported before the process exits.
      .then(() => stopTracing())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`shutdown failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The watcher reads reload.* from the config in force, so a reload can turn it off or change its debounce.
  let current = config;
  const reload = (path: string, trigger: string): void => {
    if (stopping) return;
    void reloadFrom(path, running, logger, trigger).then((next) => {
      if (next) current = next;
    });
  };
  process.on('SIGHUP', () => {
    if (!configPath) {
      logger.warn('SIGHUP ignored: the embedded default has no config file to re-read');
      return;
    }
    reload(configPath, 'SIGHUP');
  });
  if (configPath && current) {
    const watcher = watchConfigFile(configPath, {
      settings: () => current!.reload,
      logger,
      onChange: () => reload(configPath, 'file changed'),
    });
    process.once('exit', () => watcher.close());
  }
  announce();
}

/**
 * SIGHUP or a change to the file: re-read and validate it; a bad one is refused (naming the keys) and
 * the running config kept. Resolves with the config now in force, or undefined when refused.
 */
async function reloadFrom(path: string, running: Pick<RunningGateway, 'reload'>, logger: Logger, trigger: string): Promise<GatewayConfig | undefined> {
  let next;
  try {
    next = loadConfigFile(path);
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues : [String(err)];
    logger.error({ issues, trigger }, `config reload refused, keeping the running config: ${issues.join('; ')}`);
    return undefined;
  }
  try {
    const report = await running.reload(next);
    logger.info({ ...report, trigger }, 'config reloaded');
    if (report.needsRestart.length > 0) logger.warn({ keys: report.needsRestart }, `config reloaded; these keys take effect after a restart: ${report.needsRestart.join(', ')}`);
    return next;
  } catch (err) {
    // ConfigError: the file was valid but something it names cannot be loaded (a JWKS file, a CA).
    const issues = err instanceof ConfigError ? err.issues : [err instanceof Error ? err.message : String(err)];
    logger.error({ issues, trigger }, `config reload refused, keeping the running config: ${issues.join('; ')}`);
    return undefined;
  }
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
