import type { Resolvers } from '../generated/types.js';

export const consoleResolvers: Resolvers = {
  Query: {
    consoleUrl: async (_parent, { vmId, mode }, ctx) => (await ctx.gateway.consoleAccess(vmId, mode, ctx.principal)).url,
    console: (_parent, { vmId, mode }, ctx) => ctx.gateway.consoleAccess(vmId, mode, ctx.principal),
  },
  Mutation: {
    openConsole: (_parent, { vmId, mode }, ctx) => ctx.gateway.consoleAccess(vmId, mode, ctx.principal),
  },
};
