/**
 * GraphQL over WebSocket (graphql-ws) on the gateway's HTTP server. graphql-ws validates with
 * graphql's defaults only, so this is the second door's own pipeline: the same parse limit,
 * validation rules, error formatting and partial errors as Apollo applies over HTTP, plus the
 * per-connection operation cap and the connection guard (auth, per-caller caps).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../logger.js';
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
  /** Where socket errors (oversized frames, protocol errors) and internal failures go: never console.error. */
  logger: Logger;
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
  const wsCleanup = serveGraphqlWs<Record<string, unknown> | undefined, WsAuthExtra>(
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
    opts.logger,
    opts.gatewayMetrics,
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

type WsExtra = { readonly socket: WebSocket; readonly request: IncomingMessage };

/**
 * graphql-ws's `useServer` (graphql-ws/use/ws) with the gateway's logger: that one writes socket
 * errors (an oversized frame is one per attempt) and internal failures to `console.error` with
 * stack traces, past pino and its redaction, and puts error messages into close reasons outside
 * production. Same protocol handling (graphql-ws's `makeServer`), same keep-alive; errors go to the
 * logger as one line without a stack and close reasons are fixed strings.
 */
function serveGraphqlWs<P extends Record<string, unknown> | undefined, E extends Record<PropertyKey, unknown>>(
  options: ServerOptions<P, WsExtra & Partial<E>>,
  wss: WebSocketServer,
  keepAliveMs: number,
  logger: Logger,
  metrics: GatewayMetrics | undefined,
): { dispose(): Promise<void> } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  // noServer: the WebSocketServer has no listener of its own to fail; log whatever it may still emit.
  wss.on('error', (err) => logger.error({ err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, 'graphql-ws server error'));
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for a frame over maxPayload, 1002 for bad framing): the client's mistake, not ours.
      const code = typeof err.code === 'string' ? err.code : 'UNKNOWN';
      metrics?.wsSocketError(code);
      logger.warn({ remoteAddress: request.socket.remoteAddress ?? null, wsError: code }, 'graphql-ws socket error; connection closed');
      if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    let pongWait: ReturnType<typeof setTimeout> | null = null;
    const pingInterval =
      keepAliveMs > 0 && Number.isFinite(keepAliveMs)
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
            socket.once('pong', () => {
              if (pongWait) clearTimeout(pongWait);
              pongWait = null;
            });
            socket.ping();
          }, keepAliveMs)
        : null;
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', async (data: Buffer) => {
            try {
              await cb(String(data));
            } catch (err) {
              logger.error({ err }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request } as WsExtra & Partial<E>,
    );
    socket.once('close', (code: number, reason: Buffer) => {
      if (pongWait) clearTimeout(pongWait);
      if (pingInterval) clearInterval(pingInterval);
      void closed(code, String(reason));
    });
  });
  return {
    dispose: async () => {
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
