/**
 * Operation limits, applied identically to GraphQL over HTTP and over WebSocket: a query bomb costs
 * the same to refuse whichever door it comes through.
 */
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';

export interface QueryLimits {
  /** Deepest selection nesting. @default 10 */
  maxDepth: number;
  /** Aliases in one operation. @default 15 */
  maxAliases: number;
  /** graphql-armor cost (objects 2, scalars 1, multiplied by depth). @default 5000 */
  maxCost: number;
  /** Lexical tokens in one document; enforced by the parser, before any validation work. @default 2000 */
  maxTokens: number;
  /** Directives in one operation. @default 20 */
  maxDirectives: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 10, maxAliases: 15, maxCost: 5000, maxTokens: 2000, maxDirectives: 20 };

/** Validation rules for the limits; the caller adds them to graphql's specifiedRules. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  // exposeLimits: the error says what the limit is, so a legitimate client can fix its query.
  // propagateOnRejection false: report through the validation context instead of throwing, which
  // graphql's validate() (and so Apollo) would treat as an internal error.
  const common = {
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(error)],
  };
  return [
    maxDepthRule({ ...common, n: limits.maxDepth, flattenFragments: true }),
    maxAliasesRule({ ...common, n: limits.maxAliases }),
    costLimitRule({ ...common, maxCost: limits.maxCost, flattenFragments: true }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives }),
  ] as ValidationRule[];
}
