import type { Resolvers } from '../generated/types.js';
import { NotFoundError } from '../../errors.js';
import { assertProviderAllowed } from '../../auth/principal.js';
import { formatVmId } from '../../vm-id.js';
import { decodeNodeId, encodeNodeId, type NodeRefRecord } from '../node-id.js';
import { providerKindValue } from '../provider-kinds.js';

function ref(nodeType: NodeRefRecord['nodeType'], provider: string, r: { id: string; name: string; ip?: string | null } | null | undefined): NodeRefRecord | null {
  return r ? { nodeType, provider, ...r } : null;
}

const opaqueNode = {
  id: (r: NodeRefRecord) => encodeNodeId(r.nodeType, r.provider, r.id),
  upstreamId: (r: NodeRefRecord) => r.id,
};

export const vmResolvers: Resolvers = {
  Query: {
    vms: async (_parent, args, ctx) => {
      const connection = await ctx.gateway.listVms(args, ctx.principal);
      ctx.partialErrors.push(...connection.failures);
      return connection;
    },
    vm: (_parent, { id }, ctx) => ctx.gateway.getVm(id, ctx.principal),
    node: async (_parent, { id }, ctx) => {
      const decoded = decodeNodeId(id);
      if (decoded.type === 'Vm') return ctx.gateway.getVm(id, ctx.principal);
      // Authorization before existence, as everywhere: a restricted caller cannot probe provider names.
      assertProviderAllowed(ctx.principal, decoded.provider);
      ctx.gateway.provider(decoded.provider);
      // No upstream API here answers a cluster, host or enterprise on its own: they are reached through a Vm.
      throw new NotFoundError(`${decoded.type} objects cannot be fetched by id on their own; read them through a Vm`, {
        provider: decoded.provider,
        type: decoded.type,
      });
    },
    providers: (_parent, _args, ctx) =>
      ctx.gateway.upstreamsFor(ctx.principal).map((p) => ({ name: p.name, kind: providerKindValue(p.kind) })),
  },
  Node: {
    __resolveType: (obj) => ('nodeType' in obj ? obj.nodeType : 'Vm'),
  },
  VmConnection: {
    edges: (c) => c.edges,
    nodes: (c) => c.edges.map((e) => e.node),
    pageInfo: (c) => ({
      hasNextPage: c.hasNextPage,
      hasPreviousPage: c.hasPreviousPage,
      startCursor: c.edges[0]?.cursor ?? null,
      endCursor: c.edges.at(-1)?.cursor ?? null,
    }),
  },
  Vm: {
    id: (vm) => formatVmId(vm.provider, vm.upstreamId),
    provider: (vm) => ({ name: vm.provider, kind: providerKindValue(vm.providerKind) }),
    cluster: (vm) => ref('Cluster', vm.provider, vm.cluster),
    host: (vm) => ref('Host', vm.provider, vm.host),
    enterprise: (vm) => ref('Enterprise', vm.provider, vm.enterprise),
  },
  Cluster: opaqueNode,
  Host: opaqueNode,
  Enterprise: opaqueNode,
};
