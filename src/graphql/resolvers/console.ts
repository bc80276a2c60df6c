import type { Resolvers } from '../generated/types.js';

export const consoleResolvers: Resolvers = {
  Query: {
    consoleUrl: async (_parent, { vmId, mode, viewOnly }, ctx) => (await ctx.gateway.consoleAccess(vmId, mode, ctx.principal, { viewOnly: viewOnly ?? false })).url,
    console: (_parent, { vmId, mode, viewOnly }, ctx) => ctx.gateway.consoleAccess(vmId, mode, ctx.principal, { viewOnly: viewOnly ?? false }),
  },
  Mutation: {
    openConsole: (_parent, { vmId, mode, viewOnly }, ctx) => ctx.gateway.consoleAccess(vmId, mode, ctx.principal, { viewOnly: viewOnly ?? false }),
  },
};
