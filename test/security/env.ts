/**
 * The security suite's gateway: CloudTower, Abiquo (VMs with VNC passwords) and DRP simulators with
 * distinctive credentials, live consoles behind them, and a gateway whose every log line is kept.
 * CloudTower is reached through a recording tap that learns every session token and console token
 * the gateway was issued.
 */
import { startGateway, type RunningGateway } from '../../src/app.js';
import { validateConfig } from '../../src/config.js';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { defaultAbiquoData, farmConsoles, startAbiquoSimulator, type AbiquoSimulator } from '../../src/simulators/abiquo/index.js';
import { defaultCloudTowerVms, startCloudTowerSimulator, type CloudTowerSimulator } from '../../src/simulators/cloudtower/index.js';
import { startDrpSimulator, type DrpSimulator } from '../../src/simulators/drp/index.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startTowerTap } from './tower-tap.js';

export const TOWER_PASSWORD = 'ct-Pass-Sentinel-7731';
export const ABIQUO_PASSWORD = 'abq-Pass-Sentinel-7732';
export const DRP_PASSWORD = 'drp-Pass-Sentinel-7733';
export const MAX_FRAME_BYTES = 64 * 1024;

export interface SecurityEnv {
  gateway: RunningGateway;
  url: string;
  logs: ReturnType<typeof captureLogger>;
  tower: CloudTowerSimulator;
  abiquo: AbiquoSimulator;
  drp: DrpSimulator;
  /** VNC passwords of the Abiquo consoles (distinctive strings). */
  vncPasswords: string[];
  /** Abiquo VM ids (gateway form) whose console has a VNC password. */
  abiquoPasswordVmIds: string[];
  /** CloudTower login tokens the gateway received. */
  towerSessionTokens: Set<string>;
  /** raw_token and token values of every `vnc` answer the gateway received. */
  towerConsoleTokens: Set<string>;
  close(): Promise<void>;
}

export async function startSecurityEnv(): Promise<SecurityEnv> {
  const consoles = new ConsoleFarm();
  const towerVms = defaultCloudTowerVms();
  for (const vm of towerVms) await consoles.add(`tower/${vm.id}`, { name: vm.name });
  const tower = await startCloudTowerSimulator({ users: [{ username: 'gw', password: TOWER_PASSWORD, source: 'LOCAL' }], vms: towerVms, consoleFor: (vm) => consoles.locate(`tower/${vm.id}`) });
  const towerTap = await startTowerTap(tower.url);

  const data = defaultAbiquoData();
  const vncPasswords: string[] = [];
  const abiquoPasswordVmIds: string[] = [];
  for (const ent of data) {
    for (const vm of ent.vms) {
      if (vm.password) {
        vm.password = `vnc-Sentinel-${ent.id}-${vm.id}`;
        vncPasswords.push(vm.password);
        abiquoPasswordVmIds.push(`abiquo:${ent.id}/${vm.id}`);
      }
    }
  }
  const abiquo = await startAbiquoSimulator({ data, username: 'gw', password: ABIQUO_PASSWORD, ...(await farmConsoles(data, consoles, 'abiquo/')) });
  const drp = await startDrpSimulator({ users: { gw: DRP_PASSWORD }, autoEmitEveryMs: 0 });

  const logs = captureLogger('trace');
  const config = validateConfig({
    server: { host: '127.0.0.1', port: 0, introspection: false },
    console: { maxFrameBytes: MAX_FRAME_BYTES },
    providers: [
      {
        name: 'tower',
        kind: 'cloudtower',
        url: towerTap.url,
        username: 'gw',
        password: TOWER_PASSWORD,
        websockify: { cluster: { scheme: 'ws', port: tower.port }, tower: { scheme: 'ws', port: tower.port } },
      },
      { name: 'abiquo', kind: 'abiquo', url: abiquo.url, username: 'gw', password: ABIQUO_PASSWORD },
      { name: 'drp', kind: 'drp', url: drp.url, username: 'gw', password: DRP_PASSWORD },
    ],
  });
  const gateway = await startGateway(config, { logger: logs.logger });
  return {
    gateway,
    url: gateway.url,
    logs,
    tower,
    abiquo,
    drp,
    vncPasswords,
    abiquoPasswordVmIds,
    towerSessionTokens: towerTap.sessionTokens,
    towerConsoleTokens: towerTap.consoleTokens,
    close: async () => {
      await gateway.close();
      await Promise.all([towerTap.close(), tower.close(), abiquo.close(), drp.close()]);
      await consoles.close();
    },
  };
}
