/** Starts a CloudTower simulator and a gateway configured for it, both on ephemeral loopback ports. */
import { startGateway, type RunningGateway } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import type { GatewayEvent } from '../../src/events/types.js';
import { validateConfig } from '../../src/config.js';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import {
  startCloudTowerSimulator,
  defaultCloudTowerVms,
  DEFAULT_CLOUDTOWER_USER,
  type CloudTowerSimulator,
  type CloudTowerSimulatorOptions,
} from '../../src/simulators/cloudtower/index.js';
import { captureLogger } from './log-capture.js';
import { postGraphQL, type GraphQLResponse } from './graphql.js';

export { postGraphQL, type GraphQLResponse };

export interface TowerGateway {
  sim: CloudTowerSimulator;
  /** A live RFB console per simulated VM, keyed by CloudTower VM id. */
  consoles: ConsoleFarm;
  gateway: RunningGateway;
  logs: ReturnType<typeof captureLogger>;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

export async function startTowerGateway(
  opts: {
    sim?: CloudTowerSimulatorOptions;
    provider?: Record<string, unknown>;
    config?: Record<string, unknown>;
    /** More providers; a function gets the simulator (e.g. a second provider name for the same CloudTower). */
    extraProviders?: Record<string, unknown>[] | ((sim: CloudTowerSimulator) => Record<string, unknown>[]);
    /** The gateway's clock (tickets, minting budget, console sessions). @default systemClock */
    clock?: Clock;
  } = {},
): Promise<TowerGateway> {
  const consoles = new ConsoleFarm();
  const vms = opts.sim?.vms ?? defaultCloudTowerVms();
  for (const vm of vms) await consoles.add(vm.id, { name: vm.name });
  const sim = await startCloudTowerSimulator({ consoleFor: (vm) => consoles.locate(vm.id), ...opts.sim, vms });
  const logs = captureLogger();
  const config = validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    ...opts.config,
    providers: [
      {
        name: 'tower',
        kind: 'cloudtower',
        url: sim.url,
        username: DEFAULT_CLOUDTOWER_USER.username,
        password: DEFAULT_CLOUDTOWER_USER.password,
        websockify: { cluster: { scheme: 'ws', port: sim.port }, tower: { scheme: 'ws', port: sim.port } },
        timeouts: { connectMs: 2_000, requestMs: 3_000 },
        ...opts.provider,
      },
      ...(typeof opts.extraProviders === 'function' ? opts.extraProviders(sim) : (opts.extraProviders ?? [])),
    ],
  });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, { logger: logs.logger, ...(opts.clock ? { clock: opts.clock } : {}) });
  } catch (err) {
    await sim.close();
    await consoles.close();
    throw err;
  }
  return {
    sim,
    consoles,
    gateway,
    logs,
    gql: (query, variables) => postGraphQL(gateway.url, query, variables),
    close: async () => {
      await gateway.close();
      await sim.close();
      await consoles.close();
    },
  };
}

/** Resolves with the next consoles.<action> event on the gateway's bus. */
export function nextConsoleEvent(t: TowerGateway, action: 'opened' | 'closed'): Promise<GatewayEvent> {
  const sub = t.gateway.gateway.events.subscribe({ sources: ['GATEWAY'] });
  return (async () => {
    try {
      for (;;) {
        const { value, done } = await sub.next();
        if (done) throw new Error('bus closed');
        if (value.type === 'consoles' && value.action === action) return value;
      }
    } finally {
      await sub.return?.();
    }
  })();
}
