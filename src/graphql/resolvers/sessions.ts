/** Live session control: `consoleSessions` and `terminateConsoleSession` (schema/sessions.graphql). */
import type { Resolvers } from '../generated/types.js';

export const sessionResolvers: Resolvers = {
  Query: {
    consoleSessions: (_parent, { filter }, ctx) =>
      ctx.gateway.consoleSessions({ vmId: filter?.vmId ?? null, state: filter?.state ?? null, caller: filter?.caller ?? null }, ctx.principal),
  },
  Mutation: {
    terminateConsoleSession: (_parent, { id }, ctx) => ctx.gateway.terminateConsoleSession(id, ctx.principal),
  },
  ConsoleSession: {
    id: (s) => s.sessionId,
    state: (s) => (s.endedAt === null ? 'LIVE' : 'ENDED'),
  },
  ConsoleAccess: {
    sessionId: (a) => a.sessionId ?? null,
  },
};
