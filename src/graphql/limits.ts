/**
 * Operation limits, applied identically to GraphQL over HTTP and over WebSocket: a query bomb costs
 * the same to refuse whichever door it comes through.
 */
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';
import type { GatewayConfig } from '../config.js';

/** The operation limits of the config's `limits` section (its schema documents each one and its default). */
export type QueryLimits = Pick<GatewayConfig['limits'], 'maxDepth' | 'maxAliases' | 'maxCost' | 'maxTokens' | 'maxDirectives'>;

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
