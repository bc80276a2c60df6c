import type { Resolvers } from '../generated/types.js';
import { formatVmId } from '../../vm-id.js';
import { providerKindValue } from '../provider-kinds.js';

export const vmResolvers: Resolvers = {
  Query: {
    vms: async (_parent, args, ctx) => {
      const connection = await ctx.gateway.listVms(args, ctx.principal);
      ctx.partialErrors.push(...connection.failures);
      return connection;
    },
    vm: (_parent, { id }, ctx) => ctx.gateway.getVm(id, ctx.principal),
    providers: (_parent, _args, ctx) =>
      ctx.gateway.upstreamsFor(ctx.principal).map((p) => ({ name: p.name, kind: providerKindValue(p.kind) })),
  },
  VmConnection: {
    edges: (c) => c.edges,
    nodes: (c) => c.edges.map((e) => e.node),
    pageInfo: (c) => ({ hasNextPage: c.hasNextPage, endCursor: c.edges.at(-1)?.cursor ?? null }),
  },
  Vm: {
    id: (vm) => formatVmId(vm.provider, vm.upstreamId),
    provider: (vm) => ({ name: vm.provider, kind: providerKindValue(vm.providerKind) }),
  },
};
