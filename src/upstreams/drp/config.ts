/** The `drp` entry of `providers[]`: DRP is an event source only: the shared base plus its event socket's timing. */
import { z } from 'zod';
import { backoffSchema } from '../shared/backoff.js';
import { needsCredentials, providerBase, responseLimitsObject } from '../shared/config.js';

export const drpConfigSchema = z
  .object({
    ...providerBase,
    kind: z.literal('drp'),
    limits: responseLimitsObject
      .extend({
        /**
         * Bytes of one event-socket message (ws `maxPayload`). A larger frame closes the socket (1009),
         * shows UPSTREAM_RESPONSE_TOO_LARGE in `upstreams { lastError }` and reconnects with backoff.
         * DRP events carry whole objects (a machine with its Params is tens to hundreds of KiB). @default 16777216 (16 MiB)
         */
        maxMessageBytes: z.number().int().positive().default(16 * 1024 * 1024),
      })
      .prefault({}),
    /** Milliseconds to wait for DRP to acknowledge `register`/`deregister`. @default 5000 */
    ackTimeoutMs: z.number().int().positive().default(5_000),
    /** Milliseconds for the WebSocket handshake and the token request. @default 10000 */
    connectTimeoutMs: z.number().int().positive().default(10_000),
    /** Reconnect backoff of the event socket, milliseconds. @default { initialMs: 500, maxMs: 30000 } */
    reconnect: backoffSchema({ initialMs: 500, maxMs: 30_000 }),
    /** Lifetime asked for password-derived tokens, seconds; refreshed at half-life. @default 3600 */
    tokenTtlSeconds: z.number().int().positive().default(3_600),
    /**
     * How often DRP pings, milliseconds. No ping or data for twice this long means the server is dead
     * and the socket is reopened; 0 turns this detection off. @default 54000 (DRP's ping period)
     */
    serverPingIntervalMs: z.number().int().min(0).default(54_000),
  })
  .strict()
  .refine(...needsCredentials);

export type DrpProviderConfig = z.infer<typeof drpConfigSchema>;
