/**
 * Authentication and limits for WebSockets: the `Origin` check every upgrade passes before its
 * route sees it, and graphql-ws's `onConnect` (credentials from `connectionParams`, per-caller
 * connection cap) with the close codes graphql-ws clients understand (src/websocket-codes.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { GatewayAccess } from './access.js';
import { ConcurrencyCaps, type CapSlot, type Caps } from './concurrency-caps.js';
import { credentialFromConnectionParams, credentialFromHeaders } from './credentials.js';
import { GraphqlWsCloseCode, UpgradeRefusal, graphqlWsCloseReason } from '../websocket-codes.js';
import { UnauthenticatedError, UnauthenticatedReason } from './errors.js';
import { OriginPolicy } from './origin.js';
import { HostPolicy } from './host.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { ANONYMOUS, type Principal } from './principal.js';

/** What onConnect leaves on graphql-ws's `ctx.extra` for the rest of the connection. */
// A type alias, not an interface: graphql-ws wants its extra to be a Record.
export type WsAuthExtra = {
  principal?: Principal;
  capSlot?: CapSlot;
};

interface WsContext {
  connectionParams?: Readonly<Record<string, unknown>> | undefined;
  extra: { socket: WebSocket; request: IncomingMessage } & WsAuthExtra;
}

export interface WebSocketGuard {
  /** Origin check for every WebSocket path and browser requests on HTTP /graphql: null, or the refusal to answer with. */
  checkOrigin(req: IncomingMessage, transport?: 'http' | 'upgrade'): UpgradeRefusal | null;
  /** Host check (DNS rebinding) for every WebSocket path and the HTTP routes but probes: null, or the refusal. */
  checkHost(req: IncomingMessage, boundPort: number, transport?: 'http' | 'upgrade'): UpgradeRefusal | null;
  /** Global graphql-ws connection cap, checked at the upgrade (before any credential is looked at). */
  checkGraphqlCapacity(openConnections: number): UpgradeRefusal | null;
  /** graphql-ws `onConnect`: authenticates and takes a per-caller slot, or closes the socket and returns false. */
  onConnect(ctx: WsContext): Promise<boolean>;
  /** graphql-ws `onClose`: gives the slot back. */
  onClose(ctx: WsContext): void;
  /** The connection's caller, for the operation context. Throws if onConnect did not accept it (cannot happen: graphql-ws refuses operations before the ack). */
  principalOf(ctx: WsContext): Principal;
}

/** `access` absent: every caller anonymous, same-origin WebSockets only, loopback and IP-literal Hosts only, no connection caps. */
export function createWebSocketGuard(access: GatewayAccess | undefined, logger: Logger, metrics?: GatewayMetrics): WebSocketGuard {
  const sameOriginOnly = new OriginPolicy();
  const loopbackHostsOnly = new HostPolicy();
  // A fleet counts both caps across replicas (src/fleet/caps.ts); alone, the global one is the upgrade-time check below.
  const caps: Caps = access?.caps?.wsConnections ?? new ConcurrencyCaps(() => ({ global: Number.POSITIVE_INFINITY, perCaller: access?.limits.wsConnections.perCaller ?? Number.POSITIVE_INFINITY }));

  const refuse = (ctx: WsContext, code: keyof typeof graphqlWsCloseReason, detail: Record<string, unknown>): false => {
    logger.info({ remoteAddress: ctx.extra.request.socket.remoteAddress ?? null, closeCode: code, ...detail }, 'graphql-ws connection refused');
    // graphql-ws then closes with 4403 itself; ws ignores a second close on a closing socket.
    ctx.extra.socket.close(code, graphqlWsCloseReason[code]);
    return false;
  };

  return {
    checkOrigin(req, transport = 'upgrade') {
      const policy = access?.origins ?? sameOriginOnly;
      if (policy.allows(req)) return null;
      // The Origin itself is not secret and is what an operator needs to allow it (length-capped: the client wrote it).
      logger.info(
        { remoteAddress: req.socket.remoteAddress ?? null, origin: String(req.headers.origin).slice(0, 200), path: req.url?.split('?')[0]?.slice(0, 200), transport },
        transport === 'upgrade' ? 'WebSocket upgrade refused: origin not allowed' : 'HTTP request refused: origin not allowed',
      );
      metrics?.requestRefused(UpgradeRefusal.OriginNotAllowed.code, transport);
      return UpgradeRefusal.OriginNotAllowed;
    },
    checkHost(req, boundPort, transport = 'upgrade') {
      const policy = access?.hosts ?? loopbackHostsOnly;
      if (policy.allows(req, boundPort)) return null;
      // Like the Origin, the Host is what an operator needs to add to server.allowedHosts; the client wrote it, so it is capped.
      logger.info(
        { remoteAddress: req.socket.remoteAddress ?? null, host: String(req.headers.host ?? '').slice(0, 200), path: req.url?.split('?')[0]?.slice(0, 200), transport },
        transport === 'upgrade' ? 'WebSocket upgrade refused: host not allowed (server.allowedHosts)' : 'HTTP request refused: host not allowed (server.allowedHosts)',
      );
      metrics?.requestRefused(UpgradeRefusal.HostNotAllowed.code, transport);
      return UpgradeRefusal.HostNotAllowed;
    },
    checkGraphqlCapacity(openConnections) {
      if (!access || openConnections < access.limits.wsConnections.global) return null;
      logger.warn({ openConnections }, 'graphql-ws upgrade refused: connection limit reached');
      return UpgradeRefusal.GraphqlConnectionsLimit;
    },
    async onConnect(ctx) {
      let principal: Principal = ANONYMOUS;
      if (access) {
        let credential = credentialFromConnectionParams(ctx.connectionParams);
        // Non-browser clients may authenticate the upgrade request itself.
        if (credential.kind === 'none') credential = credentialFromHeaders(ctx.extra.request.headers);
        try {
          principal = await access.authenticator.authenticate(credential);
        } catch (err) {
          if (!(err instanceof UnauthenticatedError)) throw err;
          const missing = err.reason === UnauthenticatedReason.CredentialsMissing;
          return refuse(ctx, missing ? GraphqlWsCloseCode.Unauthorized : GraphqlWsCloseCode.Forbidden, { reason: err.reason });
        }
      }
      // Anonymous callers (auth.mode none) are everyone at once: a per-caller cap would be a global one.
      const slot = await caps.tryAcquire(principal.method === 'none' ? null : principal.id);
      if (typeof slot === 'string') return refuse(ctx, GraphqlWsCloseCode.TooManyConnections, { caller: principal.id, reason: slot === 'GLOBAL' ? 'WS_CONNECTIONS_LIMIT' : 'WS_CONNECTIONS_PER_CALLER' });
      ctx.extra.principal = principal;
      ctx.extra.capSlot = slot;
      return true;
    },
    onClose(ctx) {
      ctx.extra.capSlot?.release();
    },
    principalOf(ctx) {
      if (!ctx.extra.principal) throw new UnauthenticatedError(UnauthenticatedReason.CredentialsMissing, 'connection not authenticated');
      return ctx.extra.principal;
    },
  };
}
