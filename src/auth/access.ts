/**
 * Everything about who may ask and how much, built from one config: the authenticator, the
 * `Origin` allowlist and the per-caller limits. One instance is shared by the HTTP server
 * (GraphQL, graphql-ws) and the console endpoint; `update` swaps it all on a config reload.
 */
import type { GatewayConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { Authenticator } from './authenticator.js';
import type { Caps, ConcurrencyLimits } from './concurrency-caps.js';
import type { JwtVerifierOptions } from './jwt.js';
import { isLoopbackHost } from './loopback.js';
import { HostPolicy } from './host.js';
import { OriginPolicy } from './origin.js';
import type { TokenBucketLimits } from './token-bucket.js';

export interface CallerLimits {
  /** Console tickets minted per caller: refill per minute and burst. */
  tickets: TokenBucketLimits;
  /** Console sessions open at once. */
  consoles: ConcurrencyLimits;
  /** graphql-ws connections open at once. */
  wsConnections: ConcurrencyLimits;
}

export interface GatewayAccessOptions {
  /** Where the start-up (and reload) warnings about the auth posture go. @default none */
  logger?: Logger;
  /** Clock and JWKS fetch settings for JWT verification. */
  jwt?: JwtVerifierOptions;
  /**
   * Where console sessions and graphql-ws connections are counted when not in this process alone
   * (a fleet's caps in Redis, src/fleet/caps.ts). Built by the host from `limits`. @default per process
   */
  caps?: { consoles: Caps; wsConnections: Caps };
}

export function callerLimitsOf(config: GatewayConfig): CallerLimits {
  const l = config.limits;
  return {
    tickets: { perMinute: l.ticketsPerMinute, burst: l.ticketBurst },
    consoles: { global: l.maxConsoles, perCaller: l.maxConsolesPerCaller },
    wsConnections: { global: l.maxWsConnections, perCaller: l.maxWsConnectionsPerCaller },
  };
}

export class GatewayAccess {
  readonly authenticator: Authenticator;
  #origins: OriginPolicy;
  #hosts: HostPolicy;
  #limits: CallerLimits;
  readonly #logger: Logger | undefined;
  /** Fleet-wide caps, when the host built them; else each user counts in this process. */
  readonly caps: { consoles: Caps; wsConnections: Caps } | undefined;

  /** Throws ConfigError when a JWKS file cannot be loaded. */
  constructor(config: GatewayConfig, options: GatewayAccessOptions = {}) {
    this.#logger = options.logger;
    this.caps = options.caps;
    this.authenticator = new Authenticator(config.auth, options.jwt);
    this.#origins = originPolicyOf(config);
    this.#hosts = hostPolicyOf(config);
    this.#limits = callerLimitsOf(config);
    if (this.#logger) {
      logAuthPosture(config, this.#logger);
      logHostPosture(config, this.#logger);
    }
  }

  get origins(): OriginPolicy {
    return this.#origins;
  }

  /** The Host allowlist (DNS-rebinding defence), live across reloads. */
  get hosts(): HostPolicy {
    return this.#hosts;
  }

  /** Current limits; read at each use, so a reload applies to the next ticket, console or connection. */
  get limits(): CallerLimits {
    return this.#limits;
  }

  /** Apply a reloaded config. Everything is built before anything is swapped: on error (ConfigError) the old settings stay. */
  update(config: GatewayConfig): void {
    const origins = originPolicyOf(config);
    const hosts = hostPolicyOf(config);
    const limits = callerLimitsOf(config);
    this.authenticator.update(config.auth);
    this.#origins = origins;
    this.#hosts = hosts;
    this.#limits = limits;
    if (this.#logger) {
      logAuthPosture(config, this.#logger);
      logHostPosture(config, this.#logger);
    }
  }
}

function originPolicyOf(config: GatewayConfig): OriginPolicy {
  return new OriginPolicy({ allowedOrigins: config.server.allowedOrigins, publicUrl: config.server.publicUrl });
}

/** Reachable from other machines by name only if the name is configured: say so once, at start and reload. */
function logHostPosture(config: GatewayConfig, logger: Logger): void {
  const { host, publicUrl, allowedHosts } = config.server;
  if (isLoopbackHost(host) || publicUrl || (allowedHosts && allowedHosts.length > 0)) return;
  logger.warn(
    { host },
    'neither server.publicUrl nor server.allowedHosts is set: only requests whose Host is an IP address or localhost are answered (421 HOST_NOT_ALLOWED otherwise)',
  );
}

function hostPolicyOf(config: GatewayConfig): HostPolicy {
  return new HostPolicy({ allowedHosts: config.server.allowedHosts, publicUrl: config.server.publicUrl });
}

/**
 * Say loudly when the gateway accepts anonymous callers from other machines. Called by
 * GatewayAccess at start and on reload; exported for hosts that build no GatewayAccess.
 */
export function logAuthPosture(config: GatewayConfig, logger: Logger): void {
  const host = config.server.host;
  const mode = config.auth?.mode ?? 'none';
  if (mode !== 'none') {
    logger.info({ authMode: mode, apiKeys: config.auth?.apiKeys.length ?? 0 }, 'client authentication on');
    return;
  }
  if (!isLoopbackHost(host)) {
    logger.warn(
      { authMode: 'none', host, security: 'unauthenticated' },
      `AUTHENTICATION IS OFF and the gateway listens on ${host}: anyone who can reach it can list VMs and open their consoles. Set auth.mode to apiKey, jwt or apiKey+jwt.`,
    );
  } else if (config.auth === undefined) {
    logger.warn({ authMode: 'none', host }, 'no auth section in the config: every caller is anonymous and may use every provider (allowed on loopback only; set auth.mode explicitly)');
  } else {
    logger.info({ authMode: 'none', host }, 'client authentication off (loopback only)');
  }
}
