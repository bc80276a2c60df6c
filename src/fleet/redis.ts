/**
 * The fleet's one Redis connection (ioredis). Commands fail fast while Redis is down instead of
 * queueing without bound (`enableOfflineQueue: false`, a per-command timeout), so a caller gets
 * STORE_UNAVAILABLE at once; ioredis reconnects on its own and the connection state is logged once
 * per transition, never once per request.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { GatewayError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RedisConfig } from './config.js';

/** Redis could not answer (down, unreachable, timed out): the caller may retry later. */
export class StoreUnavailableError extends GatewayError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(ErrorCode.StoreUnavailable, `the shared store is unavailable: ${reason}`, {}, options);
  }
}

export interface Fleet {
  /** Shared by every fleet feature; commands are prefixed with `keyPrefix` by ioredis itself. */
  readonly redis: Redis;
  readonly keyPrefix: string;
  /** This process's id in the fleet: leases and per-replica counts are keyed by it. */
  readonly replicaId: string;
  /** True while the connection is ready. */
  connected(): boolean;
  /** True while the connection is ready and the last background PING was answered: what readiness reports. */
  reachable(): boolean;
  /** `redis.leaseTtlMs`. */
  readonly leaseTtlMs: number;
  /** A second connection for SUBSCRIBE / blocking reads (a subscribed connection can run nothing else). */
  duplicate(): Redis;
  close(): Promise<void>;
}

/** Connects (waiting up to `connectTimeoutMs`), then returns; later outages are survived, not fatal. */
export async function connectFleet(config: RedisConfig, deps: { logger: Logger; replicaId?: string }): Promise<Fleet> {
  const logger = deps.logger.child({ component: 'redis' });
  const url = new URL(config.url);
  const tls = url.protocol === 'rediss:' ? { ...(config.tls.ca ? { ca: readFileSync(config.tls.ca, 'utf8') } : {}), rejectUnauthorized: !config.tls.insecure } : undefined;
  const options = {
    keyPrefix: config.keyPrefix,
    enableOfflineQueue: false,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    // Reconnect forever with a capped delay: a fleet outlives Redis restarts.
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    ...(tls ? { tls } : {}),
  };
  const redis = new Redis(config.url, options);
  let up = false;
  // Logged once per transition; the URL is never logged (it may carry a password).
  redis.on('ready', () => {
    if (!up) logger.info({ host: url.hostname, port: url.port }, 'redis connected');
    up = true;
  });
  const down = (err?: Error): void => {
    if (up) logger.warn({ reason: (err as NodeJS.ErrnoException | undefined)?.code ?? 'connection closed' }, 'redis connection lost');
    up = false;
  };
  redis.on('error', (err) => down(err));
  redis.on('end', () => down());
  redis.on('close', () => down());
  await Promise.race([
    redis.connect().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, config.connectTimeoutMs).unref()),
  ]);
  if (!up) logger.warn({ host: url.hostname, port: url.port }, 'redis not reachable at start: starting anyway, not ready until it is');
  // A SIGSTOPped Redis keeps its socket open and answers nothing: only an answered PING counts.
  let answering = up;
  let pinging = false;
  let silentLogged = false;
  const ping = async (): Promise<void> => {
    if (pinging) return;
    pinging = true;
    const ok = await redis.ping().then(() => true, () => false);
    pinging = false;
    if (ok === answering) return;
    answering = ok;
    // A lost connection is logged as such above; this pair covers a connection that stays open but silent.
    if (ok && silentLogged) logger.info('redis answering again');
    else if (!ok && up) logger.warn({ healthCheckIntervalMs: config.healthCheckIntervalMs }, 'redis not answering (connection open)');
    silentLogged = !ok && up;
  };
  const pinger = setInterval(() => void ping(), config.healthCheckIntervalMs);
  pinger.unref();
  redis.on('ready', () => void ping());
  const duplicates = new Set<Redis>();
  return {
    redis,
    keyPrefix: config.keyPrefix,
    replicaId: deps.replicaId ?? randomUUID(),
    connected: () => up,
    reachable: () => up && answering,
    leaseTtlMs: config.leaseTtlMs,
    duplicate: () => {
      // A subscriber connection must queue its SUBSCRIBE while connecting; it runs no other command.
      const copy = redis.duplicate({ enableOfflineQueue: true, lazyConnect: false });
      copy.on('error', () => {});
      duplicates.add(copy);
      return copy;
    },
    close: async () => {
      clearInterval(pinger);
      for (const d of duplicates) d.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
