/**
 * One HTTP server, one port: GraphQL over HTTP (Apollo, Express 5) and over WebSocket (graphql-ws) on
 * /graphql, the console proxy on /websockify, /healthz, /readyz and the demo page.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import express from 'express';
import type { Registry } from 'prom-client';
import { GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Gateway } from './gateway.js';
import type { GatewayContext } from './graphql/context.js';
import { createErrorFormatter, toGraphQLError } from './graphql/errors.js';
import { buildGatewaySchema } from './graphql/schema.js';
import { limitRules, type QueryLimits } from './graphql/limits.js';
import type { Logger } from './logger.js';

/** Something else that accepts WebSocket upgrades on its own path (the console proxy). */
export interface UpgradeRoute {
  path: string;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface HttpServerOptions {
  gateway: Gateway;
  logger: Logger;
  host: string;
  port: number;
  introspection: boolean;
  /** Extra WebSocket endpoints beside /graphql. */
  upgradeRoutes?: UpgradeRoute[];
  /** Extra Express routes (demo page, static assets), mounted before the 404 handler. */
  routes?: (app: express.Express) => void;
  /** Operation limits (HTTP and WebSocket alike), body size and graphql-ws behaviour. */
  limits: QueryLimits & {
    maxBodyBytes: number;
    maxSubscriptionsPerConnection: number;
    wsConnectionInitTimeoutMs: number;
    wsKeepAliveMs: number;
  };
  /** Served on /metrics in the Prometheus text format. */
  metrics?: Registry;
}

export interface RunningHttpServer {
  server: Server;
  /** http://host:port as bound (port resolved when 0 was asked). */
  url: string;
  port: number;
  schema: GraphQLSchema;
  /** Stop accepting, close graphql-ws clients with 1001, drain HTTP. */
  close(): Promise<void>;
}

type ErrorFormatter = ReturnType<typeof createErrorFormatter>;

function withCode(error: GraphQLError, code: string): GraphQLError {
  return error.extensions.code ? error : new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } });
}

/** Appends errors that did not stop an operation (a provider down while listing all) to the response. */
function partialErrorsPlugin(formatError: ErrorFormatter): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (contextValue.partialErrors.length === 0 || response.body.kind !== 'single') return;
          const extra = contextValue.partialErrors.map((e) => formatError({ message: e.message }, e));
          response.body.singleResult.errors = [...(response.body.singleResult.errors ?? []), ...extra];
        },
      };
    },
  };
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const { gateway, logger } = opts;
  const schema = buildGatewaySchema();
  const app = express();
  app.disable('x-powered-by');
  const server = createServer(app);

  const formatError = createErrorFormatter(logger);
  const { limits } = opts;
  const extraRules: ValidationRule[] = [...limitRules(limits), ...(opts.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const graphqlWss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: limits.maxBodyBytes });
  const wsCleanup = useServer<Record<string, unknown> | undefined, { request: IncomingMessage }>(
    {
      schema,
      connectionInitWaitTimeout: limits.wsConnectionInitTimeoutMs,
      context: (): GatewayContext => ({ gateway, caller: 'anonymous', partialErrors: [] }),
      // The same parse limit and validation rules as HTTP: graphql-ws would otherwise validate with graphql's defaults only.
      onSubscribe: (ctx, _id, payload) => {
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
        return {
          schema,
          document,
          variableValues: payload.variables ?? null,
          operationName: payload.operationName ?? null,
          contextValue: { gateway, caller: 'anonymous', partialErrors: [] } satisfies GatewayContext,
        };
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        const partial = (args.contextValue as GatewayContext).partialErrors;
        const errors = [...(result.errors ?? []), ...partial.map((e) => toGraphQLError(e))];
        if (errors.length === 0) return undefined;
        return { ...result, errors: errors.map((e) => formatError(e.toJSON(), e)) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON(), e)),
    },
    graphqlWss,
    limits.wsKeepAliveMs,
  );

  const routes = new Map<string, UpgradeRoute['handleUpgrade']>([
    ['/graphql', (req, socket, head) => graphqlWss.handleUpgrade(req, socket, head, (ws) => graphqlWss.emit('connection', ws, req))],
  ]);
  for (const route of opts.upgradeRoutes ?? []) routes.set(route.path, route.handleUpgrade);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname.replace(/\/+$/, '') || '/';
    const handler = routes.get(path);
    if (!handler) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.on('error', (err) => logger.debug({ err: { code: (err as NodeJS.ErrnoException).code } }, 'upgrade socket error'));
    handler(req, socket, head);
  });

  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: opts.introspection,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    formatError,
    validationRules: extraRules,
    parseOptions: { maxTokens: limits.maxTokens },
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer: server }), partialErrorsPlugin(formatError)],
    logger: {
      debug: (m) => logger.debug(m),
      info: (m) => logger.info(m),
      warn: (m) => logger.warn(m),
      error: (m) => logger.error(m),
    },
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const readiness = await gateway.readiness();
    res.status(readiness.ok ? 200 : 503).json({ status: readiness.ok ? 'ready' : 'not ready', upstreams: readiness.upstreams });
  });
  if (opts.metrics) {
    const registry = opts.metrics;
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }
  app.use(
    '/graphql',
    express.json({ limit: limits.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async (): Promise<GatewayContext> => ({ gateway, caller: 'anonymous', partialErrors: [] }),
    }),
  );
  opts.routes?.(app);
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // Express 5 error handler: body too large, malformed JSON... never a stack trace.
  app.use((err: { status?: number; type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err }, 'unhandled HTTP error');
    res.status(status).json({ errors: [{ message: status === 500 ? 'Internal server error' : (err.type ?? 'bad request'), extensions: { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | null = null;
  return {
    server,
    schema,
    port: address.port,
    url: `http://${hostForUrl}:${address.port}`,
    close: () =>
      (closing ??= (async () => {
        // dispose() completes subscriptions and closes clients with 1001; a bare close() would not.
        await wsCleanup.dispose();
        await apollo.stop();
      })()),
  };
}
