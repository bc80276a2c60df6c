/**
 * One HTTP server, one port: the HTTP routes (GraphQL over HTTP with Apollo and Express 5, /healthz,
 * /readyz, /metrics, the demo page) and the upgrade router that hands WebSockets to graphql-ws
 * (graphql/ws-server.ts) on /graphql and to the console proxy on /websockify.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import cors from 'cors';
import express from 'express';
import type { Registry } from 'prom-client';
import { type GraphQLSchema, type ValidationRule } from 'graphql';
import type { GatewayConfig } from './config.js';
import type { Gateway } from './gateway.js';
import type { GatewayAccess } from './auth/access.js';
import { authenticateHttp, principalOf } from './auth/http.js';
import type { Principal } from './auth/principal.js';
import { createWebSocketGuard } from './auth/websocket.js';
import { UpgradeRefusal, refuseUpgrade } from './websocket-codes.js';
import type { GatewayContext } from './graphql/context.js';
import { createErrorFormatter } from './graphql/errors.js';
import { introspectionDisabledRule } from './graphql/introspection.js';
import { subscriptionsOverWebSocketOnly } from './graphql/http-operations.js';
import { liveLimitRules } from './graphql/live-limits.js';
import { buildGatewaySchema } from './graphql/schema.js';
import type { AnyUpstreamKind } from './upstreams/descriptor.js';
import { createGraphqlWsServer } from './graphql/ws-server.js';
import type { Logger } from './logger.js';
import { graphqlMetricsPlugin } from './observability/graphql.js';
import { httpObservability } from './observability/http.js';
import { graphqlTracingPlugin } from './observability/tracing.js';
import { runWithRequestId } from './observability/log-context.js';
import type { GatewayMetrics } from './observability/metrics.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './observability/request-id.js';
import { isIdeRequest, mountIdeAssets, sendIdePage } from './ide/routes.js';

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
  /**
   * Operation limits (HTTP and WebSocket alike), body size and graphql-ws behaviour. Read live: a
   * config reload assigns new values into this object and the next request uses them (except
   * wsConnectionInitTimeoutMs and wsKeepAliveMs, fixed at start).
   */
  limits: GatewayConfig['limits'];
  /** Served on /metrics in the Prometheus text format. */
  metrics?: Registry;
  /** HTTP and GraphQL metrics, request logging. @default none (no request metrics) */
  gatewayMetrics?: GatewayMetrics;
  /**
   * Client authentication, the WebSocket Origin allowlist and per-caller connection caps (shared
   * with the console endpoint). @default none: every caller anonymous, same-origin WebSockets only
   */
  access?: GatewayAccess;
  /** Why this process is not ready beyond draining (`STORE_UNAVAILABLE`), or null when it is; must answer from cached state. @default always ready */
  readiness?: () => string | null;
  /** The registered upstream kinds; the schema's ProviderKind and EventSource enums hold one value each. @default upstreamKinds */
  upstreamKinds?: readonly AnyUpstreamKind[];
}

export interface RunningHttpServer {
  server: Server;
  /** http://host:port as bound (port resolved when 0 was asked). */
  url: string;
  port: number;
  schema: GraphQLSchema;
  /** Open graphql-ws connections now. */
  graphqlWsConnections(): number;
  /**
   * First step of a shutdown: /readyz answers 503 and new WebSocket upgrades 503 from now on, the
   * listener stops accepting connections, graphql-ws clients are closed with 1001. In-flight HTTP
   * requests go on; `close()` waits for them.
   */
  drain(): Promise<void>;
  /** Stop accepting, close graphql-ws clients with 1001, drain HTTP. */
  close(): Promise<void>;
}

type ErrorFormatter = ReturnType<typeof createErrorFormatter>;

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
  const schema = buildGatewaySchema(opts.upstreamKinds);
  const app = express();
  app.disable('x-powered-by');
  const server = createServer(app);

  const formatError = createErrorFormatter(logger, { hideSchemaDetails: !opts.introspection });
  const { limits } = opts;
  const wsGuard = createWebSocketGuard(opts.access, logger, opts.gatewayMetrics);
  // The port as bound (0 asks for a free one): `localhost` is an allowed Host on it.
  const boundPort = (): number => (server.address() as AddressInfo | null)?.port ?? opts.port;
  const contextFor = (principal: Principal): GatewayContext => ({ gateway, principal, partialErrors: [] });
  const liveLimits = liveLimitRules(limits);
  const extraRules: ValidationRule[] = [liveLimits.rule, ...(opts.introspection ? [] : [introspectionDisabledRule])];
  const graphqlWs = createGraphqlWsServer({
    schema,
    limits,
    extraRules,
    guard: wsGuard,
    contextFor,
    formatError,
    logger,
    ...(opts.gatewayMetrics ? { gatewayMetrics: opts.gatewayMetrics } : {}),
  });
  let draining = false;

  const routes = new Map<string, UpgradeRoute['handleUpgrade']>([['/graphql', graphqlWs.handleUpgrade]]);
  for (const route of opts.upgradeRoutes ?? []) routes.set(route.path, route.handleUpgrade);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname.replace(/\/+$/, '') || '/';
    const handler = routes.get(path);
    if (!handler) {
      refuseUpgrade(socket, UpgradeRefusal.PathNotFound);
      return;
    }
    if (draining) {
      refuseUpgrade(socket, UpgradeRefusal.ShuttingDown);
      return;
    }
    socket.on('error', (err) => logger.debug({ err: { code: (err as NodeJS.ErrnoException).code } }, 'upgrade socket error'));
    // DNS rebinding: a Host the gateway does not serve is refused on every WebSocket path.
    const badHost = wsGuard.checkHost(req, boundPort());
    if (badHost) {
      refuseUpgrade(socket, badHost);
      return;
    }
    // Cross-site WebSocket hijacking: refused for every WebSocket path, before its route sees the request.
    const badOrigin = wsGuard.checkOrigin(req);
    if (badOrigin) {
      refuseUpgrade(socket, badOrigin);
      return;
    }
    // The upgrade's log lines (refusals, the console session's audit line) carry its request id.
    runWithRequestId(requestIdFrom(req.headers), () => handler(req, socket, head));
  });

  const apollo = new ApolloServer<GatewayContext>({
    schema,
    // Introspection off is enforced by introspectionDisabledRule (in extraRules, for HTTP and graphql-ws
    // alike), whose message names this gateway's setting; Apollo's own rule would name its constructor.
    introspection: true,
    // No "Did you mean" suggestions when the schema is not public (the formatter does the same for graphql-ws).
    hideSchemaDetailsFromClientErrors: !opts.introspection,
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT (graceful order: readiness, graphql-ws, consoles, HTTP). Apollo's own
    // handler would stop the server concurrently and re-raise the signal.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    formatError,
    validationRules: extraRules,
    // A getter: Apollo keeps this object and reads maxTokens on every parse, so a reload applies.
    parseOptions: {
      get maxTokens() {
        return limits.maxTokens;
      },
    },
    // Validated documents are cached per limits: after a reload tightens them, a cached query is validated again.
    documentStore: liveLimits.documentStore,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      // Apollo's landing pages load Apollo Sandbox from a CDN; the gateway serves GraphiQL itself (src/ide/).
      ApolloServerPluginLandingPageDisabled(),
      partialErrorsPlugin(formatError),
      subscriptionsOverWebSocketOnly<GatewayContext>(),
      ...(opts.gatewayMetrics ? [graphqlMetricsPlugin<GatewayContext>(opts.gatewayMetrics)] : []),
      graphqlTracingPlugin<GatewayContext>(),
    ],
    logger: {
      debug: (m) => logger.debug(m),
      info: (m) => logger.info(m),
      warn: (m) => logger.warn(m),
      error: (m) => logger.error(m),
    },
  });
  await apollo.start();

  app.use(httpObservability({ logger, ...(opts.gatewayMetrics ? { metrics: opts.gatewayMetrics } : {}) }));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness is this process's: listening, not draining, and its fleet store answering. Never an
  // upstream call, and no upstream detail (unauthenticated; upstream health is the `upstreams`
  // query and the `upstream_up` metric): one upstream down must not take every replica out.
  app.get('/readyz', (_req, res) => {
    if (draining) {
      res.status(503).json({ status: 'shutting down' });
      return;
    }
    const notReady = opts.readiness?.() ?? null;
    if (notReady) res.status(503).json({ status: 'not ready', reason: notReady });
    else res.json({ status: 'ready' });
  });
  // DNS rebinding: every route below answers only Host values the gateway serves (src/auth/host.ts).
  // /healthz and /readyz stay above: probes (kubelet, load balancers) may send any Host, and they reveal no VM data.
  app.use((req, res, next) => {
    const refusal = wsGuard.checkHost(req, boundPort(), 'http');
    if (refusal) refuseHttp(res, refusal, 'Host not allowed: add it to server.allowedHosts');
    else next();
  });
  if (opts.metrics) {
    const registry = opts.metrics;
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }
  if (opts.introspection) mountIdeAssets(app);
  app.use(
    '/graphql',
    // Browsers' requests (they carry an Origin) get the WebSocket paths' Origin policy; Apollo's CSRF prevention stays.
    // A preflight from an origin not on the list is refused here too: 403 without CORS headers, so the browser fails it.
    (req, res, next) => {
      const refusal = req.headers.origin === undefined ? null : wsGuard.checkOrigin(req, 'http');
      if (refusal) refuseHttp(res, refusal, 'Origin not allowed: add it to server.allowedOrigins');
      else next();
    },
    // CORS for the origins that passed (server.allowedOrigins, read live, and the gateway's own): preflights end here
    // with 204, before authentication (a preflight carries no credentials); other requests get the CORS headers.
    graphqlCors,
    // The IDE page for a browser navigating to /graphql, while introspection is on; before authentication (the
    // page holds no data, and GraphiQL sends the caller's credentials from its Headers tab).
    (req, res, next) => {
      if (opts.introspection && isIdeRequest(req)) sendIdePage(res);
      else next();
    },
    // Authenticate before parsing the body: an unauthenticated caller costs no JSON parse.
    ...(opts.access ? [authenticateHttp(opts.access)] : []),
    liveJsonParser(limits),
    expressMiddleware(apollo, {
      context: async ({ res }): Promise<GatewayContext> => contextFor(principalOf(res)),
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
  let drained: Promise<void> | null = null;
  const drain = (): Promise<void> =>
    (drained ??= (async () => {
      draining = true;
      // Stop listening now; connections already open keep being served until close().
      server.close();
      await graphqlWs.dispose();
    })());
  return {
    server,
    schema,
    graphqlWsConnections: graphqlWs.connections,
    port: address.port,
    url: `http://${hostForUrl}:${address.port}`,
    drain,
    close: () =>
      (closing ??= (async () => {
        await drain();
        await apollo.stop();
      })()),
  };
}

/**
 * Request headers a cross-origin page may send to /graphql: credentials (`authorization`, `x-api-key`), the
 * JSON content type, the headers Apollo's CSRF prevention accepts as proof of a preflight, Apollo Client's
 * client-awareness headers and a request id.
 */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-api-key',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'apollographql-client-name',
  'apollographql-client-version',
  REQUEST_ID_HEADER,
] as const;

/**
 * CORS on /graphql. Only requests whose Origin the Origin check let through reach it (server.allowedOrigins,
 * publicUrl's origin, the gateway's own), so it reflects that Origin. No cookies: credentials travel in headers,
 * so `Access-Control-Allow-Credentials` is not sent.
 */
const graphqlCors = cors({
  origin: true,
  methods: ['GET', 'POST'],
  allowedHeaders: [...CORS_ALLOWED_HEADERS],
  exposedHeaders: [REQUEST_ID_HEADER],
  maxAge: 600,
});

/** A request refused before routing (Host, Origin): the refusal's status, its code in the GraphQL error shape. */
function refuseHttp(res: express.Response, refusal: UpgradeRefusal, message: string): void {
  res.status(refusal.status).set('Cache-Control', 'no-store').json({ errors: [{ message, extensions: { code: refusal.code } }] });
}

/** express.json with the body limit read per request (it changes on reload); one parser per distinct limit. */
function liveJsonParser(limits: { maxBodyBytes: number }): express.RequestHandler {
  let limit = -1;
  let parser: express.RequestHandler = express.json();
  return (req, res, next) => {
    if (limits.maxBodyBytes !== limit) {
      limit = limits.maxBodyBytes;
      parser = express.json({ limit });
    }
    parser(req, res, next);
  };
}
