import { afterEach, describe, expect, it } from 'vitest';
import { defaultCloudTowerVms, makeSimulatedVm } from '../../src/simulators/cloudtower/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

// Seed 000's worked example, pinned on a simulated VM so the whole path (GraphQL -> client -> simulator) is exercised.
const seedVm = makeSimulatedVm({
  id: 'clseed0vm00000000000000001',
  local_id: '00000000-0000-0000-0000-000000000000',
  name: 'seed-example',
  vnc: {
    raw_token: '1a2bc3d4567e89f0a1b2c3d4e5f6a7b8',
    token: 'MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=',
    cluster_ip: '192.168.5.2',
    host_ip: '192.168.5.4',
  },
});

async function seedGateway(): Promise<TowerGateway> {
  // URLs are only built here, never dialled: the seed's addresses appear as text, no traffic goes there.
  return startTowerGateway({
    sim: { vms: [...defaultCloudTowerVms(), seedVm] },
    provider: { websockify: { cluster: { scheme: 'wss', port: 443 }, tower: { scheme: 'wss', port: 443, host: '192.168.5.1' } } },
  });
}

describe('consoleUrl and console over GraphQL', () => {
  it('reproduces the seed direct URL byte for byte (DIRECT)', async () => {
    env = await seedGateway();
    const res: any = await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: DIRECT) }', { id: `tower:${seedVm.id}` });
    expect(res.errors).toBeUndefined();
    expect(res.data.consoleUrl).toBe(
      'wss://192.168.5.2/websockify/?uuid=00000000-0000-0000-0000-000000000000&token=1a2bc3d4567e89f0a1b2c3d4e5f6a7b8&host=192.168.5.4',
    );
  });

  it('reproduces the seed through-CloudTower URL byte for byte (UPSTREAM)', async () => {
    env = await seedGateway();
    const res: any = await env.gql('query($id: ID!) { console(vmId: $id, mode: UPSTREAM) { url mode protocols expiresAt } }', { id: `tower:${seedVm.id}` });
    expect(res.data.console).toEqual({
      url: 'wss://192.168.5.1/websockify/?token=MTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo%3D&uuid=00000000-0000-0000-0000-000000000000&host=192.168.5.4',
      mode: 'UPSTREAM',
      protocols: ['binary'],
      expiresAt: null,
    });
  });

  it('encodes the + / = of a fresh CloudTower token and asks CloudTower each time', async () => {
    env = await startTowerGateway();
    const [vm] = env.sim.listVms();
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res: any = await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: UPSTREAM) }', { id: `tower:${vm!.id}` });
      urls.push(res.data.consoleUrl);
    }
    const token = new URL(urls[0]!).searchParams.get('token')!;
    expect(urls[0]).toMatch(/[?&]token=[^&]*%2B/);
    expect(urls[0]).toMatch(/[?&]token=[^&]*%2F/);
    expect(urls[0]).toMatch(/[?&]token=[^&]*%3D/);
    expect(token).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(urls[0]).not.toBe(urls[1]);
    expect(env.sim.requests.filter((r) => r.path === '/api')).toHaveLength(2);
  });

  it('refuses unknown VMs, malformed ids and unknown providers', async () => {
    env = await startTowerGateway();
    const q = 'query($id: ID!) { consoleUrl(vmId: $id, mode: DIRECT) }';
    expect((await env.gql(q, { id: 'tower:doesnotexist0000000000' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await env.gql(q, { id: 'garbage' })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await env.gql(q, { id: 'elsewhere:abc' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await env.gql('{ consoleUrl(vmId: "tower:x", mode: SIDEWAYS) }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
