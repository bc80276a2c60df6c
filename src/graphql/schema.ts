/**
 * Loads schema/*.graphql and binds the resolvers into one executable schema.
 *
 * The SDL lists the built-in upstream kinds in `ProviderKind` and `EventSource`, for codegen and for
 * consumers reading the contract (a test keeps those values equal to src/upstreams/kinds.ts). A kind
 * registered beyond them (a test's) gets its enum values here, as `extend enum`, so the running
 * schema always has one value per registered kind.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, type EnumTypeDefinitionNode, type GraphQLSchema } from 'graphql';
import type { AnyUpstreamKind } from '../upstreams/descriptor.js';
import { graphqlKindName, upstreamKinds } from '../upstreams/kinds.js';
import { mergeResolvers } from './resolvers/index.js';

export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

export function loadTypeDefs(dir = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** The values of an enum as the SDL declares it (without extensions). */
export function sdlEnumValues(typeDefs: readonly string[], name: string): string[] {
  for (const doc of typeDefs) {
    for (const def of parse(doc).definitions) {
      if (def.kind === 'EnumTypeDefinition' && def.name.value === name) return (def as EnumTypeDefinitionNode).values?.map((v) => v.name.value) ?? [];
    }
  }
  return [];
}

/** The enum values each registered kind needs: `ProviderKind` for all, `EventSource` for those that publish events. */
export function kindEnumValues(kinds: readonly AnyUpstreamKind[]): { ProviderKind: string[]; EventSource: string[] } {
  return {
    ProviderKind: kinds.map((k) => graphqlKindName(k.kind)),
    EventSource: kinds.filter((k) => k.provides.events).map((k) => graphqlKindName(k.kind)),
  };
}

/** @param kinds the registered upstream kinds. @default upstreamKinds (src/upstreams/kinds.ts) */
export function buildGatewaySchema(kinds: readonly AnyUpstreamKind[] = upstreamKinds): GraphQLSchema {
  const typeDefs = loadTypeDefs();
  const extensions = Object.entries(kindEnumValues(kinds)).flatMap(([name, values]) => {
    const declared = new Set(sdlEnumValues(typeDefs, name));
    const missing = values.filter((v) => !declared.has(v));
    return missing.length > 0 ? [`extend enum ${name} { ${missing.join(' ')} }`] : [];
  });
  return makeExecutableSchema({ typeDefs: [...typeDefs, ...extensions], resolvers: mergeResolvers() });
}
