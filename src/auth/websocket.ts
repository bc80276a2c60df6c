/**
 * Authentication and limits for WebSockets: the `Origin` check every upgrade passes before its
 * route sees it, and graphql-ws's `onConnect` (credentials from `connectionParams`, per-caller
 * connection cap) with the close codes graphql-ws clients understand.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { GatewayAccess } from './access.js';
import { ConcurrencyCaps, type CapSlot } from './concurrency-caps.js';
import { credentialFromConnectionParams, credentialFromHeaders } from './credentials.js';
import { UnauthenticatedError } from './errors.js';
import { OriginPolicy } from './origin.js';
import { ANONYMOUS, type Principal } from './principal.js';

/**
 * graphql-ws close codes for refused connections. 4401 and 4429 are final for graphql-ws clients
 * (no retry: nothing would change); 4403 may be retried, which lets a client whose
 * `connectionParams` is a function come back with a fresh token.
 */
export const WsAuthCloseCode = {
  /** No credentials in connectionParams (nor on the upgrade request). */
  Unauthorized: 4401,
  /** Credentials that did not verify (unknown key, expired or wrong-audience token...). */
  Forbidden: 4403,
  /** The caller already has `limits.maxWsConnectionsPerCaller` connections open. */
  TooManyConnections: 4429,
} as const;

/** Refusal codes of upgrades, sent as the HTTP body before any WebSocket exists. */
export const UpgradeGuardCode = {
  OriginNotAllowed: 'ORIGIN_NOT_ALLOWED',
  TooManyConnections: 'WS_CONNECTIONS_LIMIT',
} as const;

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
  /** Origin check for every WebSocket path: null, or the HTTP status and code to refuse with. */
  checkOrigin(req: IncomingMessage): { status: number; code: string } | null;
  /** Global graphql-ws connection cap, checked at the upgrade (before any credential is looked at). */
  checkGraphqlCapacity(openConnections: number): { status: number; code: string } | null;
  /** graphql-ws `onConnect`: authenticates and takes a per-caller slot, or closes the socket and returns false. */
  onConnect(ctx: WsContext): Promise<boolean>;
  /** graphql-ws `onClose`: gives the slot back. */
  onClose(ctx: WsContext): void;
  /** The connection's caller, for the operation context. Throws if onConnect did not accept it (cannot happen: graphql-ws refuses operations before the ack). */
  principalOf(ctx: WsContext): Principal;
}

/** `access` absent: every caller anonymous, same-origin WebSockets only, no connection caps. */
export function createWebSocketGuard(access: GatewayAccess | undefined, logger: Logger): WebSocketGuard {
  const sameOriginOnly = new OriginPolicy();
  const caps = new ConcurrencyCaps(() => ({ global: Number.POSITIVE_INFINITY, perCaller: access?.limits.wsConnections.perCaller ?? Number.POSITIVE_INFINITY }));

  const refuse = (ctx: WsContext, code: number, reason: string, detail: Record<string, unknown>): false => {
    logger.info({ remoteAddress: ctx.extra.request.socket.remoteAddress ?? null, closeCode: code, ...detail }, 'graphql-ws connection refused');
    // graphql-ws then closes with 4403 itself; ws ignores a second close on a closing socket.
    ctx.extra.socket.close(code, reason);
    return false;
  };

  return {
    checkOrigin(req) {
      const policy = access?.origins ?? sameOriginOnly;
      if (policy.allows(req)) return null;
      // The Origin itself is not secret and is what an operator needs to allow it.
      logger.info({ remoteAddress: req.socket.remoteAddress ?? null, origin: req.headers.origin, path: req.url?.split('?')[0] }, 'WebSocket upgrade refused: origin not allowed');
      return { status: 403, code: UpgradeGuardCode.OriginNotAllowed };
    },
    checkGraphqlCapacity(openConnections) {
      if (!access || openConnections < access.limits.wsConnections.global) return null;
      logger.warn({ openConnections }, 'graphql-ws upgrade refused: connection limit reached');
      return { status: 429, code: UpgradeGuardCode.TooManyConnections };
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
          const missing = err.details.reason === 'CREDENTIALS_MISSING';
          return refuse(ctx, missing ? WsAuthCloseCode.Unauthorized : WsAuthCloseCode.Forbidden, missing ? 'Unauthorized' : 'Forbidden', { reason: err.details.reason });
        }
      }
      // Anonymous callers (auth.mode none) are everyone at once: a per-caller cap would be a global one.
      const slot = caps.tryAcquire(principal.method === 'none' ? null : principal.id);
      if (typeof slot === 'string') return refuse(ctx, WsAuthCloseCode.TooManyConnections, 'Too many connections', { caller: principal.id, reason: 'WS_CONNECTIONS_PER_CALLER' });
      ctx.extra.principal = principal;
      ctx.extra.capSlot = slot;
      return true;
    },
    onClose(ctx) {
      ctx.extra.capSlot?.release();
    },
    principalOf(ctx) {
      if (!ctx.extra.principal) throw new UnauthenticatedError('connection not authenticated', { reason: 'CREDENTIALS_MISSING' });
      return ctx.extra.principal;
    },
  };
}
