import { afterEach, describe, expect, it } from 'vitest';
import { makeSimulatedVm } from '../../src/simulators/cloudtower/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

const VM_FIELDS = 'id upstreamId name status rawStatus provider { name kind } cluster { name } host { name ip } vcpu memoryBytes';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function getVmsRequests(t: TowerGateway): Record<string, unknown>[] {
  return t.sim.requests.filter((r) => r.path === '/v2/api/get-vms').map((r) => r.body as Record<string, unknown>);
}

describe('vms and vm over GraphQL/HTTP', () => {
  it('pages through all VMs with cursors, pushing skip/first down to CloudTower', async () => {
    env = await startTowerGateway();
    const all = env.sim.listVms().map((v) => v.name).sort();
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: any = await env.gql(`query($after: String) { vms(first: 2, after: $after) { nodes { ${VM_FIELDS} } pageInfo { hasNextPage endCursor } } }`, { after });
      expect(res.errors).toBeUndefined();
      seen.push(...res.data.vms.nodes.map((n: { name: string }) => n.name));
      if (!res.data.vms.pageInfo.hasNextPage) break;
      after = res.data.vms.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
    const bodies = getVmsRequests(env);
    // Each page asked CloudTower for first+1 records at the right offset: nothing fetched wholesale.
    expect(bodies.map((b) => [b.skip, b.first])).toEqual(bodies.map((_b, i) => [i * 2, 3]));
    expect(bodies.every((b) => b.orderBy === 'name_ASC')).toBe(true);
  });

  it('normalises fields and builds global ids', async () => {
    env = await startTowerGateway();
    const res: any = await env.gql(`{ vms(first: 50, filter: { name: "web-01" }) { nodes { ${VM_FIELDS} } } }`);
    const [vm] = res.data.vms.nodes;
    const upstream = env.sim.listVms().find((v) => v.name === 'web-01')!;
    expect(vm).toEqual({
      id: `tower:${upstream.id}`,
      upstreamId: upstream.id,
      name: 'web-01',
      status: 'RUNNING',
      rawStatus: 'RUNNING',
      provider: { name: 'tower', kind: 'CLOUDTOWER' },
      cluster: { name: upstream.cluster.name },
      host: { name: upstream.host.name, ip: upstream.host.management_ip },
      vcpu: upstream.vcpu,
      memoryBytes: upstream.memory,
    });
    const one: any = await env.gql(`query($id: ID!) { vm(id: $id) { id name } }`, { id: vm.id });
    expect(one.data.vm).toEqual({ id: vm.id, name: 'web-01' });
  });

  it('pushes filters down as a CloudTower where', async () => {
    env = await startTowerGateway();
    const res: any = await env.gql(`{ vms(filter: { nameStartsWith: "web", status: [RUNNING], cluster: "cluster-a" }) { nodes { name } } }`);
    expect(res.data.vms.nodes.map((n: { name: string }) => n.name)).toEqual(['web-01', 'web-02']);
    const [body] = getVmsRequests(env);
    expect(body!.where).toEqual({ AND: [{ name_starts_with: 'web' }, { status_in: ['RUNNING'] }, { cluster: { name: 'cluster-a' } }] });
    const contains: any = await env.gql(`{ vms(filter: { nameContains: "suspend" }) { nodes { name status } } }`);
    expect(contains.data.vms.nodes).toEqual([{ name: 'test-suspended', status: 'SUSPENDED' }]);
  });

  it('answers bad input with BAD_USER_INPUT and unknown things with NOT_FOUND', async () => {
    env = await startTowerGateway();
    const cases: [string, Record<string, unknown>, string][] = [
      ['query($id: ID!) { vm(id: $id) { id } }', { id: 'no-colon' }, 'BAD_USER_INPUT'],
      ['query($id: ID!) { vm(id: $id) { id } }', { id: 'tower:bad id!' }, 'BAD_USER_INPUT'],
      ['query($id: ID!) { vm(id: $id) { id } }', { id: 'nosuch:abc' }, 'NOT_FOUND'],
      ['query($id: ID!) { vm(id: $id) { id } }', { id: 'tower:doesnotexist0000000000' }, 'NOT_FOUND'],
      ['{ vms(provider: "nosuch") { nodes { id } } }', {}, 'BAD_USER_INPUT'],
      ['{ vms(first: 501) { nodes { id } } }', {}, 'BAD_USER_INPUT'],
      ['{ vms(first: 100000) { nodes { id } } }', {}, 'GRAPHQL_VALIDATION_FAILED'], // refused on cost before it runs
      ['{ vms(after: "not-a-cursor") { nodes { id } } }', {}, 'BAD_USER_INPUT'],
      ['{ vms { nodes { nosuchfield } } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
    ];
    for (const [query, variables, code] of cases) {
      const res = await env.gql(query, variables);
      expect(res.errors?.[0]?.extensions?.code, query + JSON.stringify(variables)).toBe(code);
      expect(JSON.stringify(res)).not.toMatch(/stacktrace|at .*\.ts:\d+/);
    }
  });

  it('lists the other providers when one is down, reporting the failure beside the data', async () => {
    env = await startTowerGateway({
      extraProviders: [{ name: 'down', kind: 'cloudtower', url: 'http://127.0.0.1:1', username: 'u', password: 'p', timeouts: { connectMs: 500, requestMs: 500 } }],
    });
    const res: any = await env.gql('{ vms(first: 100) { nodes { name provider { name } } } }');
    expect(res.data.vms.nodes).toHaveLength(env.sim.listVms().length);
    expect(res.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', provider: 'down' }) })]);
    const providers: any = await env.gql('{ providers { name kind } }');
    expect(providers.data.providers).toEqual([{ name: 'tower', kind: 'CLOUDTOWER' }, { name: 'down', kind: 'CLOUDTOWER' }]);
  });

  it('sees VMs added upstream', async () => {
    env = await startTowerGateway();
    env.sim.addVm(makeSimulatedVm({ name: 'zz-new' }));
    const res: any = await env.gql('{ vms(filter: { name: "zz-new" }) { nodes { name } } }');
    expect(res.data.vms.nodes).toEqual([{ name: 'zz-new' }]);
  });
});
