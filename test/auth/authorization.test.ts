import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { DEFAULT_CLOUDTOWER_USER } from '../../src/simulators/cloudtower/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { graphqlPost } from '../helpers/graphql.js';
import { newKey } from './helpers.js';

let env: TowerGateway | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.dispose();
  await env?.close();
  env = undefined;
});

const admin = newKey();
const towerOnly = newKey();
const bOnly = newKey();

/** Two providers backed by the same simulated CloudTower; one key for each, and one for both. */
async function twoProviderGateway(): Promise<TowerGateway> {
  return startTowerGateway({
    config: {
      auth: {
        mode: 'apiKey',
        apiKeys: [
          { name: 'admin', hash: admin.hash },
          { name: 'tower-only', hash: towerOnly.hash, providers: ['tower'] },
          { name: 'b-only', hash: bOnly.hash, providers: ['tower-b'] },
        ],
      },
    },
    extraProviders: (sim) => [
      {
        name: 'tower-b',
        kind: 'cloudtower',
        url: sim.url,
        username: DEFAULT_CLOUDTOWER_USER.username,
        password: DEFAULT_CLOUDTOWER_USER.password,
        websockify: { cluster: { scheme: 'ws', port: sim.port }, tower: { scheme: 'ws', port: sim.port } },
      },
    ],
  });
}

const as = (k: { key: string }) => ({ 'x-api-key': k.key });

describe('a caller sees only the providers its key allows', () => {
  it('vms skips other providers; vms(provider:) and vm of another provider are FORBIDDEN', async () => {
    env = await twoProviderGateway();
    const url = env.gateway.url;
    const count = env.sim.listVms().length;
    const all = await graphqlPost(url, '{ vms(first: 100) { nodes { id provider { name } } } }', { headers: as(admin) });
    expect(all.body.data?.vms.nodes).toHaveLength(2 * count);
    const mine = await graphqlPost(url, '{ vms(first: 100) { nodes { id provider { name } } } }', { headers: as(towerOnly) });
    expect(mine.body.errors).toBeUndefined();
    expect(mine.body.data?.vms.nodes).toHaveLength(count);
    expect(new Set(mine.body.data?.vms.nodes.map((n: any) => n.provider.name))).toEqual(new Set(['tower']));

    const other = await graphqlPost(url, '{ vms(provider: "tower-b") { nodes { id } } }', { headers: as(towerOnly) });
    expect(other.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', provider: 'tower-b' });
    // Unknown providers are FORBIDDEN too for a restricted caller: it cannot probe which names exist.
    const probe = await graphqlPost(url, '{ vms(provider: "nope") { nodes { id } } }', { headers: as(towerOnly) });
    expect(probe.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const vmId = env.sim.listVms()[0]!.id;
    const vm = await graphqlPost(url, `{ a: vm(id: "tower:${vmId}") { name } b: vm(id: "tower-b:${vmId}") { name } }`, { headers: as(towerOnly) });
    expect(vm.body.data?.a?.name).toBe(env.sim.listVms()[0]!.name);
    expect(vm.body.data?.b).toBeNull();
    expect(vm.body.errors).toEqual([expect.objectContaining({ path: ['b'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
  });

  it('consoleUrl, console and openConsole for another provider are FORBIDDEN', async () => {
    env = await twoProviderGateway();
    const vmId = env.sim.listVms()[0]!.id;
    const query = (q: string) => graphqlPost(env!.gateway.url, q, { headers: as(towerOnly) });
    for (const q of [`{ consoleUrl(vmId: "tower-b:${vmId}") }`, `{ console(vmId: "tower-b:${vmId}") { url } }`, `mutation { openConsole(vmId: "tower-b:${vmId}") { url } }`]) {
      const res = await query(q);
      expect(Object.values(res.body.data ?? {})).toEqual([null]);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', provider: 'tower-b' });
    }
    expect((await query(`{ consoleUrl(vmId: "tower:${vmId}") }`)).body.data?.consoleUrl).toMatch(/\/websockify\?ticket=/);
  });

  it('providers and upstreams list only allowed providers', async () => {
    env = await twoProviderGateway();
    const q = '{ providers { name } upstreams { name } }';
    const all = await graphqlPost(env.gateway.url, q, { headers: as(admin) });
    expect(all.body.data?.providers.map((p: any) => p.name)).toEqual(['tower', 'tower-b']);
    const mine = await graphqlPost(env.gateway.url, q, { headers: as(bOnly) });
    expect(mine.body.data).toEqual({ providers: [{ name: 'tower-b' }], upstreams: [{ name: 'tower-b' }] });
  });

  it('events: a restricted subscriber gets only its providers, and asking for another is FORBIDDEN', async () => {
    env = await twoProviderGateway();
    const wsUrl = `${env.gateway.url.replace('http', 'ws')}/graphql`;
    const connect = (k: { key: string }) => {
      const c = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { apiKey: k.key } });
      clients.push(c);
      return c;
    };
    const firstEvent = (c: Client, variables: Record<string, unknown> = {}) =>
      new Promise<any>((resolve, reject) => {
        const stop = c.subscribe(
          { query: 'subscription($f: EventFilter) { events(filter: $f) { provider key } }', variables },
          {
            next: (v) => {
              stop();
              resolve(v);
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
    const restricted = connect(bOnly);
    const unrestricted = connect(admin);
    const subscribed = new Promise<void>((resolve) => {
      let n = 0;
      env!.gateway.gateway.events.onSubscribe(() => ++n === 2 && resolve());
    });
    const restrictedEvent = firstEvent(restricted);
    const unrestrictedEvent = firstEvent(unrestricted);
    await subscribed;
    const publish = (provider: string) =>
      env!.gateway.gateway.events.publish({ source: 'GATEWAY', provider, time: new Date().toISOString(), type: 'test', action: 'ping', key: provider, principal: null, object: null, original: null });
    publish('tower');
    publish('tower-b');
    expect((await unrestrictedEvent).data.events.provider).toBe('tower');
    expect((await restrictedEvent).data.events.provider).toBe('tower-b');

    const forbidden = await firstEvent(restricted, { f: { providers: ['tower'] } });
    expect(forbidden.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN', provider: 'tower' }) })]);
  });
});
