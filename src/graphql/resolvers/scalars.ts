import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import type { Resolvers } from '../generated/types.js';

function toIso(value: unknown): string {
  const date = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 date and time');
  return date.toISOString();
}

export const scalarResolvers: Resolvers = {
  // Upstream objects pass through as they came; JSON values need no coercion on the way out.
  JSON: new GraphQLScalarType({ name: 'JSON', serialize: (v) => v, parseValue: (v) => v }),
  DateTime: new GraphQLScalarType({
    name: 'DateTime',
    serialize: toIso,
    parseValue: toIso,
    parseLiteral: (ast) => {
      if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
      return toIso(ast.value);
    },
  }),
};
