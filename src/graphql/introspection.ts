/**
 * Introspection off (`server.introspection: false`, the default outside the embedded mode): one
 * validation rule for HTTP and graphql-ws, whose message names this gateway's setting and where the
 * schema is published instead (graphql-js's and Apollo's own name Apollo's constructor).
 */
import { GraphQLError, getNamedType, isIntrospectionType, type ValidationContext, type ASTVisitor } from 'graphql';

export const INTROSPECTION_DISABLED_MESSAGE =
  'introspection is disabled on this gateway (config `server.introspection: false`); the schema is published by `console-gateway print-schema`';

export function introspectionDisabledRule(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      const type = getNamedType(context.getType());
      if (type && isIntrospectionType(type)) {
        context.reportError(new GraphQLError(INTROSPECTION_DISABLED_MESSAGE, { nodes: node, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
      }
    },
  };
}
