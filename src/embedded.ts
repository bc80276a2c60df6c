/**
 * The embedded default: simulated upstreams on loopback plus a gateway configured for them. This is
 * what `npm start` runs on a fresh machine, and what the demo page and end-to-end tests use.
 */
import { startGateway, type RunningGateway } from './app.js';
import { validateConfig, applyEnvOverrides, type GatewayConfigInput } from './config.js';
import type { Logger } from './logger.js';
import { startCloudTowerSimulator, type CloudTowerSimulator } from './upstreams/cloudtower/simulator/index.js';

export interface EmbeddedOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Gateway port. @default 4000 (CONSOLE_GATEWAY_PORT overrides) */
  port?: number;
}

export interface RunningEmbedded extends RunningGateway {
  cloudTower: CloudTowerSimulator;
  /** What to print for a person who just ran `npm start`. */
  banner: string;
}

/** Simulated CloudTower credentials; they only exist inside this process. */
const SIM_USER = { username: 'admin', password: 'embedded-sim-password' };

export async function startEmbedded(opts: EmbeddedOptions): Promise<RunningEmbedded> {
  const cloudTower = await startCloudTowerSimulator({ users: [SIM_USER] });
  const simPort = new URL(cloudTower.url).port;
  const raw: GatewayConfigInput = {
    server: { host: '127.0.0.1', port: opts.port ?? 4000, introspection: true, demo: true },
    providers: [
      {
        name: 'tower',
        kind: 'cloudtower',
        url: cloudTower.url,
        ...SIM_USER,
        // The simulator serves the cluster's and the tower's websockify on its own plain-HTTP port.
        websockify: {
          cluster: { scheme: 'ws', port: Number(simPort) },
          tower: { scheme: 'ws', port: Number(simPort) },
        },
      },
    ],
  };
  const config = validateConfig(applyEnvOverrides(raw as Record<string, unknown>, opts.env ?? {}));
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, { logger: opts.logger, embedded: true });
  } catch (err) {
    await cloudTower.close();
    throw err;
  }
  const [someVm] = (await gateway.gateway.listVms({ first: 1 })).edges;
  const vmId = someVm ? `${someVm.node.provider}:${someVm.node.upstreamId}` : 'tower:<vm id>';
  const banner = [
    '',
    'console-gateway (embedded default: simulated upstreams on 127.0.0.1)',
    `  GraphQL      ${gateway.url}/graphql`,
    `  health       ${gateway.url}/healthz   ${gateway.url}/readyz`,
    `  CloudTower simulator  ${cloudTower.url}`,
    '',
    'Try:',
    `  curl -s ${gateway.url}/graphql -H 'content-type: application/json' \\`,
    `    -d '{"query":"{ vms(first: 3) { nodes { id name status } } consoleUrl(vmId: \\"${vmId}\\", mode: DIRECT) }"}'`,
    '',
  ].join('\n');
  return {
    ...gateway,
    cloudTower,
    banner,
    close: async () => {
      await gateway.close();
      await cloudTower.close();
    },
  };
}
