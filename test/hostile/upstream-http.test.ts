/**
 * Hostile upstream HTTP answers (issue 10, failures 3 and 4): body bombs and dripping bodies from a
 * CloudTower that a healthy CloudTower sits beside. The hostile provider gets a 64 KiB body cap and a
 * 300 ms deadline so the attacks stay cheap; tests assert codes, never durations.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { bodyBomb, declaredBomb, dripBody, heapUsed, json, routes, startHostileHttp, type HostileHttpPeer } from './peers/upstream-http.js';

const CAP = 64 * 1024;
const EVIL = '{ vms(provider: "evil", first: 5) { nodes { id } } }';
const TOWER = '{ vms(provider: "tower", first: 5) { nodes { id } } }';
const ALL = '{ vms(first: 50) { nodes { id } } }';
const MiB = 1024 * 1024;

let env: TowerGateway | undefined;
let peer: HostileHttpPeer | undefined;
afterEach(async () => {
  await env?.close();
  await peer?.close();
  env = undefined;
  peer = undefined;
});

const healthy = {
  '/v2/api/login': json(200, { data: { token: 'hostile-session' } }),
  '/v2/api/get-vms': json(200, []),
};

async function setup(): Promise<{ env: TowerGateway; peer: HostileHttpPeer }> {
  peer = await startHostileHttp(routes(healthy));
  const url = peer.url;
  env = await startTowerGateway({
    extraProviders: [
      {
        name: 'evil',
        kind: 'cloudtower',
        url,
        username: 'gateway',
        password: 'hostile-peer-password',
        timeouts: { connectMs: 1_000, requestMs: 300 },
        limits: { maxResponseBytes: CAP },
      },
    ],
  });
  return { env, peer };
}

async function metric(bound: string): Promise<number> {
  const text = await (await fetch(`${env!.gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('upstream_bounds_exceeded_total{') && l.includes('provider="evil"') && l.includes(`bound="${bound}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('hostile upstream HTTP bodies', () => {
  it('abandons a body bomb at the size cap with UPSTREAM_RESPONSE_TOO_LARGE and keeps serving the healthy provider', async () => {
    const { env, peer } = await setup();
    const total = 256 * MiB;
    peer.handler = routes({ ...healthy, '/v2/api/get-vms': bodyBomb(total) });
    const before = heapUsed();
    const [evil, tower] = await Promise.all([env.gql(EVIL), env.gql(TOWER)]);
    const growth = heapUsed() - before;

    expect(evil.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_RESPONSE_TOO_LARGE', provider: 'evil' });
    expect(evil.errors?.[0]?.message).toContain('limits.maxResponseBytes');
    expect(tower.errors).toBeUndefined();
    expect(tower.data?.vms.nodes.length).toBeGreaterThan(0);
    // The gateway stopped reading: the peer could hand over only a small part of its bomb.
    expect(peer.sent).toBeLessThan(total / 4);
    expect(growth).toBeLessThan(64 * MiB);
    expect(await metric('response_bytes')).toBeGreaterThanOrEqual(1);
    expect(env.logs.text()).toContain('UPSTREAM_RESPONSE_TOO_LARGE');

    // Not stuck: once the peer behaves, the same provider answers again.
    peer.handler = routes(healthy);
    expect((await env.gql(EVIL)).errors).toBeUndefined();
  });

  it('refuses a declared Content-Length over the cap before reading the body', async () => {
    const { env, peer } = await setup();
    peer.handler = routes({ ...healthy, '/v2/api/get-vms': declaredBomb(1024 * MiB) });
    const evil = await env.gql(EVIL);
    expect(evil.errors?.[0]?.extensions?.code).toBe('UPSTREAM_RESPONSE_TOO_LARGE');
    expect((await env.gql(TOWER)).errors).toBeUndefined();
  });
});

describe('hostile upstream HTTP deadlines', () => {
  it('ends a dripping body at the whole-request deadline; a listing across providers still answers with the others', async () => {
    const { env, peer } = await setup();
    peer.handler = routes({ ...healthy, '/v2/api/get-vms': dripBody(50) });
    const before = heapUsed();
    const all = await env.gql(ALL);
    expect(all.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_TIMEOUT']);
    expect(all.errors?.[0]?.extensions?.provider).toBe('evil');
    expect((all.data as { vms: { nodes: unknown[] } }).vms.nodes.length).toBeGreaterThan(0);
    expect(await metric('request_deadline')).toBeGreaterThanOrEqual(1);

    // More dripping requests than the pool has connections (16): each deadline must free its connection.
    const drips = await Promise.all(Array.from({ length: 20 }, () => env.gql(EVIL)));
    for (const r of drips) expect(r.errors?.[0]?.extensions?.code).toBe('UPSTREAM_TIMEOUT');
    expect(heapUsed() - before).toBeLessThan(64 * MiB);

    peer.handler = routes(healthy);
    const after = await env.gql(EVIL);
    expect(after.errors).toBeUndefined();
    expect((await env.gql(TOWER)).errors).toBeUndefined();
  });
});
