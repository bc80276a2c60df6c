import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import type { Resolvers } from '../generated/types.js';

function toIso(value: unknown): string {
  const date = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 date and time');
  return date.toISOString();
}

// A GraphQLScalarType given as a resolver replaces the SDL's scalar, description included: repeat the SDL's text.
const JSON_DESCRIPTION = 'Any JSON value (an upstream object as the upstream sent it).';
const DATETIME_DESCRIPTION = 'An ISO-8601 date and time in UTC, e.g. 2026-01-02T03:04:05.000Z. Serialised as a string.';

export const scalarResolvers: Resolvers = {
  // Upstream objects pass through as they came; JSON values need no coercion on the way out.
  JSON: new GraphQLScalarType({ name: 'JSON', description: JSON_DESCRIPTION, serialize: (v) => v, parseValue: (v) => v }),
  DateTime: new GraphQLScalarType({
    name: 'DateTime',
    description: DATETIME_DESCRIPTION,
    serialize: toIso,
    parseValue: toIso,
    parseLiteral: (ast) => {
      if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
      return toIso(ast.value);
    },
  }),
};
