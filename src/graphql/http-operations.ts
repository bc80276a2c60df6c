/**
 * Subscriptions are served over graphql-ws only. Apollo Server would execute one sent over HTTP as if
 * it were a query, and the event stream's resolver then fails as an internal error: refuse it as the
 * client's mistake instead, before execution.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';

export const SUBSCRIPTION_OVER_HTTP_MESSAGE = 'subscriptions are served over WebSocket (graphql-ws, subprotocol graphql-transport-ws) on /graphql, not over HTTP';

export function subscriptionsOverWebSocketOnly<T extends object>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') {
            throw new GraphQLError(SUBSCRIPTION_OVER_HTTP_MESSAGE, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
          }
        },
      };
    },
  };
}
