import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startDrpSimulator, type DrpSimulator } from '../../src/simulators/drp/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { collect, commandSeen, roundTrip } from '../helpers/subscriptions.js';

let env: TowerGateway | undefined;
let drp: DrpSimulator | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.dispose();
  await env?.close();
  await drp?.close();
  env = undefined;
  drp = undefined;
  client = undefined;
});

const EVENT_FIELDS = 'id source provider time type action key principal object original';

async function drpGateway(auth: Record<string, unknown> = { username: 'rocketskates', password: 'r0cketsk8ts' }): Promise<void> {
  drp = await startDrpSimulator();
  env = await startTowerGateway({ extraProviders: [{ name: 'drp-lab', kind: 'drp', url: drp.url, ...auth }] });
  client = createClient({ url: `${env.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
}

describe('events subscription (graphql-ws) with DRP', () => {
  it('delivers DRP object events matching the pattern, normalised', async () => {
    await drpGateway();
    const registered = commandSeen(drp!, 'register machines.*.*');
    const sub = collect(client!, `subscription { events(filter: { pattern: "machines.*.*", sources: [DRP] }) { ${EVENT_FIELDS} } }`);
    await registered;
    drp!.emitObjectEvent({ type: 'profiles', action: 'save', key: 'global', object: { Name: 'global' } });
    drp!.emitObjectEvent({ type: 'machines', action: 'create', key: 'm-1', object: { Uuid: 'm-1', Name: 'node-1' } });
    await sub.until(1);
    expect(sub.received[0].data.events).toMatchObject({
      source: 'DRP',
      provider: 'drp-lab',
      type: 'machines',
      action: 'create',
      key: 'm-1',
      principal: expect.any(String),
      object: { Uuid: 'm-1', Name: 'node-1' },
      original: null,
    });
    const upstreams: any = await env!.gql('{ upstreams { name kind connected registrations lastError } }');
    expect(upstreams.data.upstreams.find((u: { name: string }) => u.name === 'drp-lab')).toEqual({
      name: 'drp-lab',
      kind: 'DRP',
      connected: true,
      registrations: ['machines.*.*'],
      lastError: null,
    });
    const deregistered = commandSeen(drp!, 'deregister machines.*.*');
    sub.unsubscribe();
    await deregistered;
    expect(drp!.totalRegistrations()).toBe(0);
  });

  it('refuses a bad pattern or an unknown provider with BAD_USER_INPUT instead of an empty stream', async () => {
    await drpGateway();
    for (const filter of ['{ pattern: "machines.*" }', '{ pattern: "machines..x" }', `{ pattern: "${'a'.repeat(600)}.*.*" }`, '{ providers: ["nope"] }']) {
      const sub = collect(client!, `subscription { events(filter: ${filter}) { id } }`);
      await sub.finished;
      const errors = sub.received[0]?.errors ?? [];
      expect(errors[0]?.extensions?.code, filter).toBe('BAD_USER_INPUT');
    }
    expect(drp!.totalRegistrations()).toBe(0);
  });

  it('shows refused DRP credentials on the upstreams query without the secret', async () => {
    drp = await startDrpSimulator();
    env = await startTowerGateway({ extraProviders: [{ name: 'drp-lab', kind: 'drp', url: drp.url, username: 'rocketskates', password: 'definitely-wrong' }] });
    await once(drp, 'refused');
    const res: any = await env.gql('{ upstreams { name connected lastError } }');
    const state = res.data.upstreams.find((u: { name: string }) => u.name === 'drp-lab');
    expect(state.connected).toBe(false);
    expect(state.lastError).toMatch(/rejected|refused|credentials/i);
    expect(JSON.stringify(res)).not.toContain('definitely-wrong');
    // An upstream down is not the process down: readiness stays 200 (upstream health is the query above and a metric).
    const ready = await fetch(`${env.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('publishes the gateway’s own upstream events (DRP dropped and reconnected) on the same stream', async () => {
    drp = await startDrpSimulator();
    const connected = once(drp, 'connection');
    env = await startTowerGateway({ extraProviders: [{ name: 'drp-lab', kind: 'drp', url: drp.url, username: 'rocketskates', password: 'r0cketsk8ts' }] });
    client = createClient({ url: `${env.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    await connected;
    const sub = collect(client!, `subscription { events(filter: { sources: [GATEWAY], pattern: "upstreams.*.drp-lab" }) { ${EVENT_FIELDS} } }`);
    // A GATEWAY-only filter must not register anything with DRP.
    await roundTrip(client!);
    expect((await env.gql('{ upstreams { name registrations } }')).data!.upstreams).toContainEqual({ name: 'drp-lab', registrations: [] });
    drp.kickAll();
    await sub.until(2);
    expect(sub.received.map((r) => [r.data.events.source, r.data.events.action, r.data.events.key])).toEqual([
      ['GATEWAY', 'disconnected', 'drp-lab'],
      ['GATEWAY', 'connected', 'drp-lab'],
    ]);
  });
});
