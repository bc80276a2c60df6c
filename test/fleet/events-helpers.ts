/** Shared by the fleet event tests: gateways on one Redis, a console opened and closed to make events, graphql-ws clients. */
import { once } from 'node:events';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
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
 * Opens VM `vmIndex`'s console through `t` and closes it once the VNC server has spoken: one
 * `consoles.opened` and one `consoles.closed` event, born on `t`.
 */
export async function openAndCloseConsole(t: TowerGateway, vmIndex = 0): Promise<void> {
  const vm = t.sim.listVms()[vmIndex]!;
  const res = await t.gql<{ consoleUrl: string }>(`{ consoleUrl(vmId: "tower:${vm.id}") }`);
  if (!res.data?.consoleUrl) throw new Error(`no console URL: ${JSON.stringify(res.errors)}`);
  const ws = await mustOpen(res.data.consoleUrl);
  await once(ws, 'message');
  ws.close();
  await once(ws, 'close');
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
