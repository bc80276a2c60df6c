/**
 * GraphQL over WebSocket (graphql-ws) on the gateway's HTTP server. graphql-ws validates with
 * graphql's defaults only, so this is the second door's own pipeline: the same parse limit,
 * validation rules, error formatting and partial errors as Apollo applies over HTTP, plus the
 * per-connection operation cap and the connection guard (auth, per-caller caps).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GatewayConfig } from '../config.js';
import type { Principal } from '../auth/principal.js';
import type { WebSocketGuard, WsAuthExtra } from '../auth/websocket.js';
import { refuseUpgrade } from '../websocket-codes.js';
import { WsOperationTracker } from '../observability/graphql.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { GatewayContext } from './context.js';
import { toGraphQLError, type createErrorFormatter } from './errors.js';
import { sharedSubscribe } from './shared-subscribe.js';

export interface GraphqlWsServerOptions {
  schema: GraphQLSchema;
  /** Read live (a reload assigns into it), except wsConnectionInitTimeoutMs and wsKeepAliveMs, fixed at start. */
  limits: GatewayConfig['limits'];
  /** Validation rules beside graphql's specified ones: the same list Apollo gets. */
  extraRules: ValidationRule[];
  guard: WebSocketGuard;
  contextFor: (principal: Principal) => GatewayContext;
  formatError: ReturnType<typeof createErrorFormatter>;
  /** Operation metrics. @default none */
  gatewayMetrics?: GatewayMetrics;
}

export interface GraphqlWsServer {
  /** The upgrade route for /graphql. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open graphql-ws connections now. */
  connections(): number;
  /** Completes subscriptions and closes clients with 1001 (a bare close would not). */
  dispose(): Promise<void>;
}

export function createGraphqlWsServer(opts: GraphqlWsServerOptions): GraphqlWsServer {
  const { schema, limits, extraRules, contextFor, formatError } = opts;
  const wsGuard = opts.guard;
  const graphqlWss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: limits.maxBodyBytes });
  const wsOperations = opts.gatewayMetrics ? new WsOperationTracker(opts.gatewayMetrics) : null;
  const wsCleanup = useServer<Record<string, unknown> | undefined, { request: IncomingMessage } & WsAuthExtra>(
    {
      schema,
      connectionInitWaitTimeout: limits.wsConnectionInitTimeoutMs,
      subscribe: sharedSubscribe,
      onConnect: (ctx) => wsGuard.onConnect(ctx),
      onClose: (ctx) => wsGuard.onClose(ctx),
      context: (ctx): GatewayContext => contextFor(wsGuard.principalOf(ctx)),
      // The same parse limit and validation rules as HTTP: graphql-ws would otherwise validate with graphql's defaults only.
      onSubscribe: (ctx, id, payload) => {
        wsOperations?.subscribed(ctx, id, payload.operationName);
        // graphql-ws has already reserved this operation's id in ctx.subscriptions when onSubscribe runs.
        if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerConnection) {
          return [new GraphQLError(`at most ${limits.maxSubscriptionsPerConnection} operations may run at once on one connection`, { extensions: { code: 'RATE_LIMITED' } })];
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: limits.maxTokens });
        } catch (err) {
          return [err instanceof GraphQLError ? withCode(err, 'GRAPHQL_PARSE_FAILED') : new GraphQLError('syntax error', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(schema, document, [...specifiedRules, ...extraRules]);
        if (errors.length > 0) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
        if (wsOperations) {
          const operation = getOperationAST(document, payload.operationName ?? null);
          wsOperations.accepted(ctx, id, operation?.operation ?? 'unknown', operation?.name?.value);
        }
        return {
          schema,
          document,
          variableValues: payload.variables ?? null,
          operationName: payload.operationName ?? null,
          contextValue: contextFor(wsGuard.principalOf(ctx)),
        };
      },
      onNext: (ctx, id, _payload, args, result) => {
        const partial = (args.contextValue as GatewayContext).partialErrors;
        const errors = [...(result.errors ?? []), ...partial.map((e) => toGraphQLError(e))];
        wsOperations?.next(ctx, id, errors.length > 0);
        if (errors.length === 0) return undefined;
        return { ...result, errors: errors.map((e) => formatError(e.toJSON(), e)) };
      },
      onError: (ctx, id, _payload, errors) => {
        wsOperations?.error(ctx, id);
        return errors.map((e) => formatError(e.toJSON(), e));
      },
      onComplete: (ctx, id) => {
        wsOperations?.completed(ctx, id);
      },
    },
    graphqlWss,
    limits.wsKeepAliveMs,
  );

  return {
    handleUpgrade: (req, socket, head) => {
      graphqlWss.options.maxPayload = limits.maxBodyBytes; // read per upgrade: a reload may have changed it
      const full = wsGuard.checkGraphqlCapacity(graphqlWss.clients.size);
      if (full) {
        refuseUpgrade(socket, full);
        return;
      }
      graphqlWss.handleUpgrade(req, socket, head, (ws) => graphqlWss.emit('connection', ws, req));
    },
    connections: () => graphqlWss.clients.size,
    dispose: async () => {
      await wsCleanup.dispose();
    },
  };
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return error.extensions.code ? error : new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } });
}
