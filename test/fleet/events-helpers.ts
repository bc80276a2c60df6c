/** Shared by the fleet event tests: gateways on one Redis, a console opened and closed to make events, graphql-ws clients. */
import { once } from 'node:events';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterEach } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { mustOpen } from '../helpers/ws.js';

export const CONSOLE_EVENTS = 'subscription($after: ID) { events(filter: { sources: [GATEWAY], pattern: "consoles.*.*" }, after: $after) { id type action key } }';

/** A gateway with its own CloudTower simulator, in the fleet on `redisUrl` (or in memory without one). */
export function towerGateway(
  redisUrl: string | null,
  events: Record<string, number> = {},
  keyPrefix = 'evt:',
  extraProviders: Record<string, unknown>[] = [],
  redisOptions: Record<string, unknown> = {},
): Promise<TowerGateway> {
  return startTowerGateway({ config: { ...(redisUrl ? { redis: { url: redisUrl, keyPrefix, ...redisOptions } } : {}), events }, extraProviders });
}

export function wsClient(t: TowerGateway): Client {
  return createClient({ url: `${t.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

/**
 * For a test file: the gateways it passes to `gateway` and the clients `client` opens are disposed
 * of after each test (clients first), or earlier by `dispose` (before something they use goes away).
 */
export function useEventGateways(): { gateway: (t: TowerGateway) => TowerGateway; client: (t: TowerGateway) => Client; dispose: () => Promise<void> } {
  const gateways: TowerGateway[] = [];
  const clients: Client[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  };
  afterEach(dispose);
  return {
    dispose,
    gateway: (t) => {
      gateways.push(t);
      return t;
    },
    client: (t) => {
      const c = wsClient(t);
      clients.push(c);
      return c;
    },
  };
}

/**
 * Opens VM `vmIndex`'s console through `t` and waits for the VNC server to speak (one
 * `consoles.opened` event, born on `t`); the returned function closes it (one `consoles.closed`).
 * Minting needs the fleet's store: while Redis is away, only consoles opened before can make events.
 */
export async function openConsole(t: TowerGateway, vmIndex = 0): Promise<() => Promise<void>> {
  const vm = t.sim.listVms()[vmIndex]!;
  const res = await t.gql<{ consoleUrl: string }>(`{ consoleUrl(vmId: "tower:${vm.id}") }`);
  if (!res.data?.consoleUrl) throw new Error(`no console URL: ${JSON.stringify(res.errors)}`);
  const ws = await mustOpen(res.data.consoleUrl);
  await once(ws, 'message');
  return async () => {
    ws.close();
    await once(ws, 'close');
  };
}

/** Opens VM `vmIndex`'s console through `t` and closes it: `consoles.opened` then `consoles.closed`, born on `t`. */
export async function openAndCloseConsole(t: TowerGateway, vmIndex = 0): Promise<void> {
  await (await openConsole(t, vmIndex))();
}

/** `events` payloads of a collected subscription. */
export function eventsOf(received: any[]): Array<{ id: string; type: string; action: string; key: string }> {
  return received.map((r) => {
    if (r.errors) throw new Error(`an error where an event was expected: ${JSON.stringify(r.errors)}`);
    return r.data.events;
  });
}

/** Resolves once `condition()` holds, checking every 25 ms; rejects after `ms` with `what`. */
export async function eventually(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 25) {
    if (waited >= ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** How many log lines of `t` carry `msg`. */
export function logCount(t: TowerGateway, msg: string): number {
  return t.logs.records().filter((r) => r.msg === msg).length;
}
