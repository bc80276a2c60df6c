import { afterEach, describe, expect, it } from 'vitest';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, isSpecifiedScalarType } from 'graphql';
import { DEFAULT_CLOUDTOWER_USER } from '../../src/simulators/cloudtower/index.js';
import { MAX_PATTERN_BYTES } from '../../src/events/pattern.js';
import { buildGatewaySchema } from '../../src/graphql/schema.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const VM_FIELDS = 'id upstreamId name label status rawStatus vcpu memoryBytes provider { name kind } cluster { id upstreamId name } host { id upstreamId name ip } enterprise { id upstreamId name }';

describe('the schema as a contract', () => {
  it('describes every type, field, argument and enum value', () => {
    const schema = buildGatewaySchema();
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
      if (!type.description?.trim()) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description?.trim()) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) if (!arg.description?.trim()) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
      if (isEnumType(type)) for (const value of type.getValues()) if (!value.description?.trim()) missing.push(`${type.name}.${value.name}`);
    }
    expect(missing).toEqual([]);
    const pattern = (schema.getType('EventFilter') as any).getFields().pattern.description as string;
    expect(pattern).toContain(`at most ${MAX_PATTERN_BYTES} bytes`);
  });

  it('serves the documented maximum page with every Vm field under the default cost limit, with complete PageInfo', async () => {
    env = await startTowerGateway();
    const res: any = await env.gql(
      `{ vms(first: 500) { edges { cursor node { ${VM_FIELDS} } } nodes { ${VM_FIELDS} } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
    );
    expect(res.errors).toBeUndefined();
    const { edges, pageInfo } = res.data.vms;
    expect(edges.length).toBe(env.sim.listVms().length);
    expect(pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: edges[0].cursor, endCursor: edges.at(-1).cursor });
    const next: any = await env.gql('query($after: String) { vms(first: 1, after: $after) { edges { cursor } pageInfo { hasPreviousPage startCursor endCursor } } }', { after: edges[0].cursor });
    expect(next.data.vms.pageInfo).toEqual({ hasPreviousPage: true, startCursor: edges[1].cursor, endCursor: edges[1].cursor });
  });

  it('gives clusters and hosts global ids unique across providers, and node() fetches a VM by its id', async () => {
    env = await startTowerGateway({ extraProviders: (sim) => [{ name: 'tower-b', kind: 'cloudtower', url: sim.url, username: DEFAULT_CLOUDTOWER_USER.username, password: DEFAULT_CLOUDTOWER_USER.password, websockify: { cluster: { scheme: 'ws', port: sim.port }, tower: { scheme: 'ws', port: sim.port } } }] });
    const res: any = await env.gql('{ vms(first: 500) { nodes { id upstreamId provider { name } cluster { id upstreamId } host { id upstreamId } } } }');
    expect(res.errors).toBeUndefined();
    const nodes: any[] = res.data.vms.nodes;
    const a = nodes.find((n) => n.provider.name === 'tower' && n.cluster)!;
    const b = nodes.find((n) => n.provider.name === 'tower-b' && n.upstreamId === a.upstreamId)!;
    // The same upstream cluster seen through two providers: two objects, two ids.
    expect(b.cluster.upstreamId).toBe(a.cluster.upstreamId);
    expect(b.cluster.id).not.toBe(a.cluster.id);
    expect(a.cluster.id).not.toContain(':');
    // One id per object (type, provider, upstream id), and one object per id.
    const pairs = nodes.flatMap((n) => [
      [n.id, `Vm|${n.provider.name}|${n.upstreamId}`],
      ...(n.cluster ? [[n.cluster.id, `Cluster|${n.provider.name}|${n.cluster.upstreamId}`]] : []),
      ...(n.host ? [[n.host.id, `Host|${n.provider.name}|${n.host.upstreamId}`]] : []),
    ]);
    const objects = new Set(pairs.map(([, key]) => key)).size;
    expect(new Set(pairs.map(([id]) => id)).size).toBe(objects);
    expect(new Set(pairs.map(([id, key]) => `${id} ${key}`)).size).toBe(objects);

    const node: any = await env.gql('query($id: ID!) { node(id: $id) { __typename id ... on Vm { upstreamId name } } }', { id: a.id });
    expect(node.data.node).toMatchObject({ __typename: 'Vm', id: a.id, upstreamId: a.upstreamId });
    const bad: any = await env.gql('query($id: ID!) { node(id: $id) { id } vms(first: 1) { nodes { id } } }', { id: 'bm90LW91cnM' });
    expect(bad.data.node).toBeNull();
    expect(bad.data.vms.nodes).toHaveLength(1);
    expect(bad.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const cluster: any = await env.gql('query($id: ID!) { node(id: $id) { id } }', { id: a.cluster.id });
    expect(cluster.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', provider: 'tower', type: 'Cluster' });
  });
});
