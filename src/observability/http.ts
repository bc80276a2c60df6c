/**
 * Per-request observability for the Express app: a request id (kept from a sane `x-request-id`,
 * else generated, echoed in the response), the request's async context for log lines, one access
 * log line, and the HTTP metrics.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger.js';
import { runWithRequestId } from './log-context.js';
import type { GatewayMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';

/** Paths that are their own metric route; anything else is `other` (or `unmatched` on 404), so labels stay bounded. */
const KNOWN_ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/']);
/** Probes and scrapes are logged at debug: at info they would drown everything else. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export function routeLabel(path: string, status: number): string {
  const normalised = path.replace(/\/+$/, '') || '/';
  if (KNOWN_ROUTES.has(normalised)) return normalised;
  return status === 404 ? 'unmatched' : 'other';
}

export function httpObservability(opts: { logger: Logger; metrics?: GatewayMetrics }): RequestHandler {
  const { logger, metrics } = opts;
  return (req: Request, res: Response, next: NextFunction) => {
    const reqId = requestIdFrom(req.headers);
    res.setHeader(REQUEST_ID_HEADER, reqId);
    const started = performance.now();
    // The path only: query strings can carry tickets or tokens (`?ticket=`), and they are not needed here.
    const path = (req.originalUrl ?? req.url).split('?')[0] ?? '/';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const durationMs = performance.now() - started;
      const status = res.headersSent ? res.statusCode : 0;
      const route = routeLabel(path, status);
      metrics?.httpRequest({ method: req.method, route, status, durationMs });
      const line = { reqId, method: req.method, path: route === 'other' || route === 'unmatched' ? path.slice(0, 200) : route, status, durationMs: Math.round(durationMs), remoteAddress: req.socket.remoteAddress ?? null };
      if (QUIET_ROUTES.has(route)) logger.debug(line, 'http request');
      else logger.info(line, 'http request');
    };
    res.once('finish', finish);
    res.once('close', finish);
    runWithRequestId(reqId, () => next());
  };
}
