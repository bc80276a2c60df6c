/**
 * The embedded default: simulated upstreams on loopback plus a gateway configured for them. This is
 * what `npm start` runs on a fresh machine, and what the demo page and end-to-end tests use.
 */
import { startGateway, type RunningGateway } from '../app.js';
import { configFromEnv, type GatewayConfigInput } from '../config.js';
import type { Logger } from '../logger.js';
import { ConsoleFarm } from './vnc/index.js';
import { defaultAbiquoData, farmConsoles, startAbiquoSimulator, type AbiquoSimulator } from './abiquo/index.js';
import { defaultCloudTowerVms, startCloudTowerSimulator, type CloudTowerSimulator } from './cloudtower/index.js';
import { startDrpSimulator, type DrpSimulator } from './drp/index.js';

export interface EmbeddedOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Gateway port. @default 4000 (CONSOLE_GATEWAY_PORT overrides) */
  port?: number;
  /** How often the DRP simulator emits a demo event, milliseconds; 0 = never. @default 15000 */
  drpEventEveryMs?: number;
}

export interface RunningEmbedded extends RunningGateway {
  cloudTower: CloudTowerSimulator;
  abiquo: AbiquoSimulator;
  drp: DrpSimulator;
  /** Live RFB consoles: `tower/<vm id>` and `abiquo/<enterprise id>/<vm id>`. */
  consoles: ConsoleFarm;
  /** What to print for a person who just ran `npm start`. */
  banner: string;
}

/** Simulated upstream credentials; they exist only inside this process. */
const TOWER_USER = { username: 'admin', password: 'embedded-tower-password' };
const ABIQUO_USER = { username: 'admin', password: 'embedded-abiquo-password' };
const DRP_USER = { username: 'rocketskates', password: 'r0cketsk8ts' };

export async function startEmbedded(opts: EmbeddedOptions): Promise<RunningEmbedded> {
  const consoles = new ConsoleFarm();
  const started: { close(): Promise<void> }[] = [consoles];
  let closing: Promise<void> | null = null;
  // Gateway first, then the simulators it talks to, then their consoles.
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      for (const s of [...started].reverse()) await s.close().catch(() => undefined);
    })());
  try {
    const towerVms = defaultCloudTowerVms();
    for (const vm of towerVms) await consoles.add(`tower/${vm.id}`, { name: vm.name });
    const cloudTower = await startCloudTowerSimulator({ users: [TOWER_USER], vms: towerVms, consoleFor: (vm) => consoles.locate(`tower/${vm.id}`) });
    started.push(cloudTower);

    const abiquoData = defaultAbiquoData();
    // A powered-off VM (db-1) has no VNC server, as on a real host.
    const abiquo = await startAbiquoSimulator({ data: abiquoData, ...ABIQUO_USER, ...(await farmConsoles(abiquoData, consoles, 'abiquo/')) });
    started.push(abiquo);

    const drp = await startDrpSimulator({ users: { [DRP_USER.username]: DRP_USER.password }, autoEmitEveryMs: opts.drpEventEveryMs ?? 15_000 });
    started.push(drp);

    const simPort = new URL(cloudTower.url).port;
    const raw: GatewayConfigInput = {
      server: { host: '127.0.0.1', port: opts.port ?? 4000, introspection: true, demo: true },
      // The demo runs on loopback with simulated upstreams; a config file for real upstreams chooses its own auth.
      auth: { mode: 'none' },
      providers: [
        {
          name: 'tower',
          kind: 'cloudtower',
          url: cloudTower.url,
          ...TOWER_USER,
          // The simulator serves the cluster's and the tower's websockify on its own plain-HTTP port.
          websockify: { cluster: { scheme: 'ws', port: Number(simPort) }, tower: { scheme: 'ws', port: Number(simPort) } },
        },
        { name: 'abiquo', kind: 'abiquo', url: abiquo.url, ...ABIQUO_USER },
        { name: 'drp', kind: 'drp', url: drp.url, ...DRP_USER },
      ],
    };
    const config = configFromEnv(raw as Record<string, unknown>, opts.env ?? {});
    const gateway = await startGateway(config, { logger: opts.logger, embedded: true });
    started.push(gateway);

    const [someVm] = (await gateway.gateway.listVms({ provider: 'tower', first: 1 })).edges;
    const vmId = someVm ? `${someVm.node.provider}:${someVm.node.upstreamId}` : 'tower:<vm id>';
    const banner = [
      '',
      'console-gateway (embedded default: simulated upstreams on 127.0.0.1)',
      `  demo page    ${gateway.url}/   (pick a VM; its console opens through the gateway)`,
      `  GraphQL      ${gateway.url}/graphql   (HTTP and graphql-ws)`,
      `  health       ${gateway.url}/healthz   ${gateway.url}/readyz   metrics ${gateway.url}/metrics`,
      `  simulators   CloudTower ${cloudTower.url}   Abiquo ${abiquo.url}   DRP ${drp.url}`,
      '',
      'Try:',
      `  curl -s ${gateway.url}/graphql -H 'content-type: application/json' \\`,
      `    -d '{"query":"{ vms(first: 3) { nodes { id name status } } consoleUrl(vmId: \\"${vmId}\\") }"}'`,
      '',
    ].join('\n');
    return { ...gateway, cloudTower, abiquo, drp, consoles, banner, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
