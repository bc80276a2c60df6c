/**
 * One error policy for HTTP and graphql-ws: API errors (src/errors.ts) keep their message and code;
 * GraphQL's own validation errors pass; anything else, internal GatewayErrors included, becomes a
 * generic INTERNAL_SERVER_ERROR. Never a stack trace.
 */
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, isApiError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Codes Apollo gives bad operations (parse, validation, bad variables, persisted queries); their
 * messages are about the query, not us. All of Apollo's codes but its INTERNAL_SERVER_ERROR.
 */
const PASS_THROUGH: ReadonlySet<string> = new Set(
  Object.values(ApolloServerErrorCode).filter((code) => code !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR),
);

function originalOf(error: unknown): unknown {
  let current = error;
  // Resolver errors arrive wrapped in GraphQLError; the cause we care about is the innermost original.
  while (current instanceof GraphQLError && current.originalError) current = current.originalError;
  return current;
}

/** graphql-js's "Did you mean ...?" tail, which names fields, types and enum values (Apollo strips the same). */
const SUGGESTION = / ?Did you mean(.+?)\?$/s;

export interface ErrorFormatterOptions {
  /**
   * Strip "Did you mean ...?" suggestions from every message, so a client cannot learn the schema
   * from its mistakes; set when introspection is off. Covers what Apollo's
   * `hideSchemaDetailsFromClientErrors` misses: graphql-ws and variable coercion. @default false
   */
  hideSchemaDetails?: boolean;
}

/** The formatter, logging what it masks so operators can see the real cause. */
export function createErrorFormatter(logger: Logger, options: ErrorFormatterOptions = {}): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    let result = formatGatewayError(formatted, error);
    if (options.hideSchemaDetails && SUGGESTION.test(result.message)) result = { ...result, message: result.message.replace(SUGGESTION, '') };
    const code = result.extensions?.code;
    if (code === ErrorCode.Internal) {
      logger.error({ err: originalOf(error), path: formatted.path }, 'internal error in GraphQL operation');
    } else if (typeof code === 'string' && code.startsWith('UPSTREAM_')) {
      // Operators need to see upstream trouble; the message is already secret-free (see errors.ts).
      logger.warn({ code, provider: result.extensions?.provider, path: formatted.path, reason: result.message }, 'upstream failure');
    }
    return result;
  };
}

export function formatGatewayError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = originalOf(error);
  const base = { ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}) };
  if (isApiError(original)) {
    return { ...base, message: original.message, extensions: { ...original.details, code: original.code } };
  }
  const code = formatted.extensions?.code;
  if (isRequestError(original, formatted)) {
    // A mistake in the request that graphql-js finds only when executing (`mutation { x }` against a schema
    // without mutations, an unknown operation name): the client's to fix, not an internal error, and not logged as one.
    return { ...base, message: formatted.message, extensions: { code: ApolloServerErrorCode.BAD_REQUEST } };
  }
  if (original instanceof GraphQLError || (typeof code === 'string' && PASS_THROUGH.has(code))) {
    const extensions = { ...formatted.extensions };
    delete extensions.stacktrace;
    delete extensions.exception;
    return { ...base, message: formatted.message, extensions: { ...extensions, code: typeof code === 'string' ? code : ErrorCode.Internal } };
  }
  return { ...base, message: 'Internal server error', extensions: { code: ErrorCode.Internal } };
}

/**
 * graphql-js's own execution-time refusals of the operation: a GraphQLError it raised itself (no
 * original error, so no resolver threw it) outside any field (no path), with no code or the one Apollo
 * defaults to. Resolver failures always carry a path; internal failures an original error.
 */
function isRequestError(original: unknown, formatted: GraphQLFormattedError): boolean {
  if (!(original instanceof GraphQLError) || original.originalError || formatted.path) return false;
  const code = formatted.extensions?.code;
  return code === undefined || code === ErrorCode.Internal;
}

/** A GatewayError (or anything) as a GraphQLError, for partial errors that did not come from a resolver throw. */
export function toGraphQLError(error: unknown, path?: ReadonlyArray<string | number>): GraphQLError {
  return new GraphQLError(error instanceof Error ? error.message : 'error', {
    ...(path ? { path } : {}),
    originalError: error instanceof Error ? error : undefined,
  });
}
