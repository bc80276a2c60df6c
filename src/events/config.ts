/** The `events` section of the config. */
import { z } from 'zod';

/** The event stream's memory for resuming subscribers (README "Events"). */
export const eventsSchema = z
  .object({
    /**
     * Events kept for `events(after:)`: the ring's size in one process, the Redis Stream's `MAXLEN ~` in a fleet
     * (Redis may keep a few more). An `after` older than that is refused with EVENTS_EXPIRED. @default 10000
     */
    retention: z.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * Bytes of events (their JSON) one process keeps for `events(after:)` without Redis; past it the oldest go first,
     * so large upstream objects shorten how far back a resume reaches. @default 67108864 (64 MiB)
     */
    retentionBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** Matching events one resume may replay; a larger gap is refused with EVENTS_EXPIRED. @default 1000 */
    replayMax: z.number().int().min(1).max(100_000).default(1_000),
  })
  .strict()
  .prefault({});
