/** The `abiquo` entry of `providers[]`, with every default. */
import { z } from 'zod';
import { backoffSchema } from '../shared/backoff.js';
import { httpUrl, needsCredentials, providerBase, timeoutsSchema } from '../shared/config.js';

export const abiquoConfigSchema = z
  .object({
    ...providerBase,
    kind: z.literal('abiquo'),
    /** `Token` or `Bearer` when `token` is used. @default Token */
    tokenScheme: z.enum(['Token', 'Bearer']).default('Token'),
    /** API version in the media types. @default 4.7 */
    apiVersion: z.string().min(1).default('4.7'),
    /** json (API 3.0+) or xml (older APIs). @default json */
    format: z.enum(['json', 'xml']).default('json'),
    /** Enterprises walked at once. @default 8 */
    concurrency: z.number().int().min(1).max(64).default(8),
    /** Collection page size (`limit`). @default 25 */
    pageSize: z.number().int().min(1).max(1000).default(25),
    events: z
      .object({
        /** Consume the Outbound API stream. @default true */
        enabled: z.boolean().default(true),
        /** Outbound API `action` filter. @default DEPLOY, UNDEPLOY, DEPLOY_FINISH, UNDEPLOY_FINISH */
        actions: z.array(z.string().min(1)).min(1).default(['DEPLOY', 'UNDEPLOY', 'DEPLOY_FINISH', 'UNDEPLOY_FINISH']),
        /** Stream URL; defaults to `<origin of url>/m/stream`. */
        url: httpUrl.optional(),
        /** Bytes of one SSE line; a longer line drops the stream (UPSTREAM_RESPONSE_TOO_LARGE), which reconnects with backoff. @default 262144 (256 KiB) */
        maxLineBytes: z.number().int().positive().default(256 * 1024),
        /** Bytes of one SSE event (all its lines up to the blank line); past it, as maxLineBytes. @default 1048576 (1 MiB) */
        maxEventBytes: z.number().int().positive().default(1024 * 1024),
        /**
         * Milliseconds the connected stream may stay silent before it is dropped (UPSTREAM_TIMEOUT) and reopened;
         * 0 turns this off. Off by default: the Outbound API sends nothing while nothing happens and documents
         * no heartbeat, and the periodic resync (resyncIntervalMs) bounds what a dead stream can miss. Set it
         * above the heartbeat period when the server sends one (Atmosphere's heartbeat is 60 s). @default 0
         */
        idleTimeoutMs: z.number().int().min(0).default(0),
      })
      .strict()
      .prefault({}),
    /** Keep a websockify token file on disk in sync with the VM set. */
    tokenFile: z.object({ path: z.string().min(1) }).strict().optional(),
    /** Abiquo consoles go through the gateway only. @default GATEWAY */
    consoleMode: z.literal('GATEWAY').default('GATEWAY'),
    timeouts: timeoutsSchema,
    /** Milliseconds between a VM event and the refresh of its enterprise; events inside the window share one refresh. @default 250 */
    refreshDebounceMs: z.number().int().min(0).default(250),
    /** Milliseconds between full walks that catch anything events missed; 0 turns them off. @default 300000 */
    resyncIntervalMs: z.number().int().min(0).default(300_000),
    /**
     * With `redis` configured, one replica of the fleet (the leader) walks this provider, holds its event
     * stream and writes its token file; the others serve the index it publishes to Redis. Without `redis`: unused.
     */
    leader: z
      .object({
        /** Milliseconds the leader's lease lives without renewal: a dead leader is replaced within this plus renewIntervalMs. @default 10000 */
        leaseTtlMs: z.number().int().min(200).max(300_000).default(10_000),
        /** Milliseconds between the leader's renewals, and between the other replicas' attempts to take over; below leaseTtlMs. @default 3000 */
        renewIntervalMs: z.number().int().min(50).max(100_000).default(3_000),
      })
      .strict()
      .prefault({})
      .refine((l) => l.renewIntervalMs < l.leaseTtlMs, { message: 'renewIntervalMs must be below leaseTtlMs', path: ['renewIntervalMs'] }),
    /** Reconnect backoff of the event stream, milliseconds. @default { initialMs: 1000, maxMs: 60000 } */
    backoff: backoffSchema({ initialMs: 1_000, maxMs: 60_000 }),
  })
  .strict()
  .refine(...needsCredentials);

export type AbiquoProviderConfig = z.infer<typeof abiquoConfigSchema>;
