/**
 * Mounts the console proxy for a gateway: tickets minted by `consoleUrl`, redeemed on /websockify,
 * targets resolved from the gateway's own provider data at redemption time (so upstream console
 * credentials are fresh), and session events published on the event bus.
 */
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config.js';
import { GatewayAccess } from '../auth/access.js';
import { RateLimitedError } from '../auth/errors.js';
import { ANONYMOUS } from '../auth/principal.js';
import { KeyedTokenBucket } from '../auth/token-bucket.js';
import { publishConsoleSession } from '../events/gateway-events.js';
import type { ConsoleUrlMinter, Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import { TokenFileResolver } from '../upstreams/tokenfile/index.js';
import { parseVmId } from '../vm-id.js';
import { createConsoleEndpoint, type ConsoleEndpoint } from './endpoint.js';
import { TicketService } from './tickets.js';
import { BINARY_SUBPROTOCOL } from './upgrade-request.js';

export const CONSOLE_PATH = '/websockify';

export interface GatewayConsole {
  endpoint: ConsoleEndpoint;
  minter: ConsoleUrlMinter;
  close(): Promise<void>;
}

/** ws(s) base of console URLs: the configured public URL, else where the server listens. */
export function consoleBaseUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export function createGatewayConsole(opts: {
  config: GatewayConfig;
  gateway: Gateway;
  logger: Logger;
  metrics: Registry;
  /** The gateway's URL as browsers see it; read when a URL is minted (the port may be known only after listen). */
  publicUrl: () => string;
  /**
   * Per-caller limits (ticket minting rate, console caps) and the redemption-time permission
   * check; share the HTTP server's instance so a reload reaches both. @default one built from `config`
   */
  access?: GatewayAccess;
  /** Clock for the minting rate limit, epoch ms. @default Date.now */
  now?: () => number;
}): GatewayConsole {
  const { config, gateway } = opts;
  const logger = opts.logger.child({ component: 'console' });
  const access = opts.access ?? new GatewayAccess(config);
  const mintBudget = new KeyedTokenBucket({ limits: () => access.limits.tickets, ...(opts.now ? { now: opts.now } : {}) });
  const tickets = new TicketService({ ttlMs: config.console.ticketTtlSeconds * 1000, reusable: config.console.reusableTickets });
  const tokenFile = config.console.tokenFile ? new TokenFileResolver({ path: config.console.tokenFile, logger }) : null;
  const endpoint = createConsoleEndpoint({
    tickets,
    tokenFile,
    logger,
    metrics: opts.metrics,
    limits: {
      maxFrameBytes: config.console.maxFrameBytes,
      idleTimeoutMs: config.console.idleTimeoutSeconds * 1000,
      pingIntervalMs: config.console.pingIntervalSeconds * 1000,
    },
    // A reload may have removed the key that minted the ticket, or taken the provider from it.
    authorizeTicket: (ticket) => access.authenticator.mayStillUse(ticket.caller, parseVmId(ticket.vmId).provider),
    sessionCaps: () => access.limits.consoles,
    resolveTarget: async (ticket) => {
      const { provider, upstreamId } = parseVmId(ticket.vmId);
      return { ...(await gateway.provider(provider).consoleTarget(upstreamId)), provider };
    },
    onSessionEvent: (e) => {
      if (e.type === 'opened' || e.type === 'closed') {
        publishConsoleSession(gateway.events, {
          action: e.type,
          // Token-file consoles know only host:port; they are reported under the pseudo-provider "tokenfile".
          provider: e.vmId ? parseVmId(e.vmId).provider : 'tokenfile',
          vmId: e.vmId ?? 'tokenfile',
          caller: e.caller,
          detail: e.type === 'closed' ? { closeCode: e.closeCode, bytesToUpstream: e.bytesToUpstream, bytesToClient: e.bytesToClient } : {},
        });
      }
    },
  });
  const minter: ConsoleUrlMinter = {
    mint: async ({ vmId, caller }) => {
      // Anonymous callers (auth.mode none) are everyone at once; a per-caller budget would throttle them all together.
      const budget = caller === ANONYMOUS.id ? ({ ok: true } as const) : mintBudget.take(caller);
      if (!budget.ok) {
        const { perMinute, burst } = access.limits.tickets;
        throw new RateLimitedError(`too many console tickets: at most ${burst} at once and ${perMinute} a minute per caller`, Math.max(1, Math.ceil(budget.retryAfterMs / 1000)));
      }
      const { ticket, expiresAt } = await tickets.mint({ vmId, caller });
      return {
        url: `${consoleBaseUrl(opts.publicUrl())}${CONSOLE_PATH}?ticket=${ticket}`,
        mode: 'GATEWAY',
        protocols: [BINARY_SUBPROTOCOL],
        expiresAt: expiresAt.toISOString(),
      };
    },
  };
  return {
    endpoint,
    minter,
    close: async () => {
      await endpoint.close();
      tokenFile?.close();
    },
  };
}
