/**
 * Mounts the console proxy for a gateway: tickets minted by the TicketUrlMinter are redeemed on
 * /websockify, targets are resolved from the gateway's own provider data at redemption time (so
 * upstream console credentials are fresh), and session events are published on the event bus.
 * Depends on the domain layer only through `ConsoleTargets`.
 */
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config.js';
import type { GatewayAccess } from '../auth/access.js';
import { systemClock, type Clock } from '../clock.js';
import type { EventPublisher } from '../events/types.js';
import { publishConsoleSession } from '../events/gateway-events.js';
import type { Logger } from '../logger.js';
import type { ConsoleTarget } from '../upstreams/types.js';
import { TokenFileResolver } from '../upstreams/tokenfile/index.js';
import type { VmRef } from '../vm-id.js';
import { createConsoleEndpoint, type ConsoleEndpoint } from './endpoint.js';
import type { TicketService } from './tickets.js';
import type { ConsoleSessionDirectory } from './session-directory.js';
import type { RecordingService } from '../recording/recorder.js';

export { CONSOLE_PATH, consoleBaseUrl } from './url-minter.js';

/** What the console proxy needs from the domain layer: where a VM's console is, now. */
export interface ConsoleTargets {
  consoleTarget(vm: VmRef): Promise<ConsoleTarget>;
}

export interface GatewayConsole {
  endpoint: ConsoleEndpoint;
  close(): Promise<void>;
}

export function createGatewayConsole(opts: {
  config: GatewayConfig;
  /** The same service the URL minter mints with. */
  tickets: TicketService;
  targets: ConsoleTargets;
  /** Where `consoles.opened` / `consoles.closed` go. */
  events: EventPublisher;
  logger: Logger;
  metrics: Registry;
  /**
   * Console caps and the redemption-time permission check; the HTTP server's instance, so a
   * reload reaches both.
   */
  access: GatewayAccess;
  /** @default systemClock */
  clock?: Clock;
  /** Where sessions are listed for `consoleSessions` (the Gateway's). @default none */
  directory?: ConsoleSessionDirectory;
  /** Records the consoles `recording` selects (the section in force when each console opens). @default none */
  recordings?: RecordingService | null;
}): GatewayConsole {
  const { config, targets, access } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger.child({ component: 'console' });
  const tokenFile = config.console.tokenFile ? new TokenFileResolver({ path: config.console.tokenFile, logger }) : null;
  const endpoint = createConsoleEndpoint({
    tickets: opts.tickets,
    tokenFile,
    logger,
    metrics: opts.metrics,
    now: () => clock.now(),
    limits: {
      maxFrameBytes: config.console.maxFrameBytes,
      idleTimeoutMs: config.console.idleTimeoutSeconds * 1000,
      pingIntervalMs: config.console.pingIntervalSeconds * 1000,
      handshakeTimeoutMs: config.console.handshakeTimeoutSeconds * 1000,
      maxHeldBytes: config.console.maxHeldBytes,
      highWaterMarkBytes: config.console.highWaterMarkBytes,
      upstreamConnectTimeoutMs: config.console.upstreamConnectTimeoutSeconds * 1000,
      maxLifetimeMs: config.console.maxLifetimeSeconds * 1000,
      inputIdleTimeoutMs: config.console.inputIdleTimeoutSeconds * 1000,
    },
    ...(opts.directory ? { directory: opts.directory } : {}),
    // A reload may have removed the key that minted the ticket, or taken the provider from it.
    authorizeTicket: (ticket) => access.authenticator.mayStillUse(ticket.caller, ticket.provider),
    sessionCaps: () => access.limits.consoles,
    ...(access.caps ? { caps: access.caps.consoles } : {}),
    // Asked for every session, recording on or not: a reload may turn it on or off.
    ...(opts.recordings
      ? { recorderFor: (identity, provider, failConsole) => opts.recordings!.recorderFor({ sessionId: identity.sessionId, vmId: identity.vmId, caller: identity.caller, provider }, failConsole) }
      : {}),
    resolveTarget: async (ticket) => ({ ...(await targets.consoleTarget(ticket)), provider: ticket.provider }),
    onSessionEvent: (e) => {
      if (e.type === 'opened' || e.type === 'closed') {
        publishConsoleSession(opts.events, {
          action: e.type,
          // Token-file consoles know only host:port; they are reported under the pseudo-provider "tokenfile".
          provider: e.provider,
          vmId: e.vmId ?? 'tokenfile',
          caller: e.caller,
          detail:
            e.type === 'closed'
              ? { sessionId: e.sessionId, closeCode: e.closeCode, bytesToUpstream: e.bytesToUpstream, bytesToClient: e.bytesToClient }
              : { sessionId: e.sessionId },
        });
      }
    },
  });
  return {
    endpoint,
    close: async () => {
      await endpoint.close();
      tokenFile?.close();
    },
  };
}
