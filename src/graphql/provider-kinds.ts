/**
 * Kind names as GraphQL shows them. The running schema's `ProviderKind` and `EventSource` enums hold
 * one value per registered kind (schema.ts adds the ones the SDL does not list); the generated types
 * know the SDL's built-in values only, hence the cast at this one place.
 */
import type { ProviderKind as GraphQLProviderKind } from './generated/types.js';
import { graphqlKindName } from '../upstreams/kinds.js';

export function providerKindValue(kind: string): GraphQLProviderKind {
  return graphqlKindName(kind) as GraphQLProviderKind;
}
