/**
 * The optional `redis` section: with it, replicas share tickets, limits, events and the Abiquo walk
 * through one Redis; without it, everything stays in this process (README "Running several replicas").
 */
import { z } from 'zod';
import { urlWithScheme } from '../upstreams/shared/config.js';

const redisUrl = urlWithScheme(['redis', 'rediss'], 'must be a redis:// or rediss:// URL');

export const redisSchema = z
  .object({
    /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. The password may come from the environment instead. */
    url: redisUrl,
    tls: z
      .object({
        /** Path of a PEM CA file to trust (rediss:// only). */
        ca: z.string().min(1).optional(),
        /** Accept any certificate. Lab use only. @default false */
        insecure: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Prefix of every key and channel this gateway uses, so several fleets can share one Redis. @default cg: */
    keyPrefix: z.string().min(1).max(64).default('cg:'),
    /** Give up a Redis command after this many milliseconds (the caller gets STORE_UNAVAILABLE). @default 2000 */
    commandTimeoutMs: z.number().int().min(50).max(60_000).default(2_000),
    /** Milliseconds to wait for the first connection at start-up before starting anyway (readiness stays 503 until it connects). @default 5000 */
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Milliseconds between the background PINGs that decide readiness (a paused Redis keeps its socket open, so only an answer counts). @default 1000 */
    healthCheckIntervalMs: z.number().int().min(100).max(60_000).default(1_000),
    /**
     * Milliseconds a replica's share of the fleet-wide console and graphql-ws counts lives without
     * being refreshed (refreshed every third of it): a crashed replica's counts are freed after this. @default 15000
     */
    leaseTtlMs: z.number().int().min(1_000).max(600_000).default(15_000),
  })
  .strict();

export type RedisConfig = z.infer<typeof redisSchema>;
