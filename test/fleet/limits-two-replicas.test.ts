/**
 * Two in-process gateways on one real redis-server: graphql-ws connection caps are the fleet's,
 * and reusable tickets (`console.reusableTickets`) stay reusable across replicas.
 */
import type WebSocket from 'ws';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { newKey, graphqlWsInit } from '../auth/helpers.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { graphqlPost } from '../helpers/graphql.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { openWs } from '../helpers/ws.js';
import { GraphqlWsCloseCode } from '../../src/websocket-codes.js';
import { eventually } from './store-helpers.js';

const alice = newKey();
const bob = newKey();
const carol = newKey();
let redis: RedisServer;
let gateways: TowerGateway[] = [];
const sockets = new Set<WebSocket>();

beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});
afterAll(async () => {
  await redis?.stop();
});

async function twoReplicas(config: Record<string, unknown>, keyPrefix: string): Promise<[TowerGateway, TowerGateway]> {
  const auth = { mode: 'apiKey', apiKeys: [{ name: 'alice', hash: alice.hash }, { name: 'bob', hash: bob.hash }, { name: 'carol', hash: carol.hash }] };
  gateways = await Promise.all([0, 1].map(() => startTowerGateway({ config: { auth, ...config, redis: { url: redis.url, keyPrefix } } })));
  return gateways as [TowerGateway, TowerGateway];
}

function wsUrl(g: TowerGateway): string {
  return `${g.gateway.url.replace('http', 'ws')}/graphql`;
}

function keep<T>(r: T): T {
  if (r && typeof r === 'object' && 'acked' in r) sockets.add((r as { acked: WebSocket }).acked);
  return r;
}

describe('limits shared by two replicas', () => {
  it('counts graphql-ws connections per caller and in total across replicas', async () => {
    const [a, b] = await twoReplicas({ limits: { maxWsConnectionsPerCaller: 1, maxWsConnections: 2 } }, 'ws-caps:');
    expect(keep(await graphqlWsInit(wsUrl(a), { apiKey: alice.key }))).toHaveProperty('acked');
    expect(await graphqlWsInit(wsUrl(b), { apiKey: alice.key })).toEqual({ closed: GraphqlWsCloseCode.TooManyConnections });
    expect(keep(await graphqlWsInit(wsUrl(b), { apiKey: bob.key }))).toHaveProperty('acked');
    // The global cap (2) is reached with one connection on each replica; closing one frees a slot fleet-wide.
    expect(await graphqlWsInit(wsUrl(a), { apiKey: carol.key })).toEqual({ closed: GraphqlWsCloseCode.TooManyConnections });
    const first = [...sockets][0]!;
    first.close();
    await new Promise((resolve) => first.once('close', resolve));
    sockets.delete(first);
    await eventually('a slot freed on A is free on B', async () => 'acked' in keep(await graphqlWsInit(wsUrl(b), { apiKey: carol.key })));
  });

  it('keeps reusable tickets reusable on every replica', async () => {
    const [a, b] = await twoReplicas({ console: { reusableTickets: true } }, 'reusable:');
    const list = await graphqlPost<{ vms: { nodes: Array<{ id: string }> } }>(a.gateway.url, '{ vms(first: 1) { nodes { id } } }', { headers: { 'x-api-key': alice.key } });
    const vmId = list.body.data!.vms.nodes[0]!.id;
    const minted = await graphqlPost<{ consoleUrl: string }>(a.gateway.url, `{ consoleUrl(vmId: "${vmId}") }`, { headers: { 'x-api-key': alice.key } });
    const url = minted.body.data!.consoleUrl;
    for (const g of [b, a, b]) {
      const u = new URL(url);
      u.host = new URL(g.gateway.url).host;
      const r = await openWs(u.toString());
      expect(r.ok).toBe(true);
      if (r.ok) sockets.add(r.ws);
    }
  });
});
