/**
 * The event log of a fleet: one bounded Redis Stream (`<keyPrefix>events`, `XADD … MAXLEN ~
 * events.retention`) that every replica appends to and reads back (XREAD BLOCK on its own
 * connection), so every subscriber on every replica sees one order, and `events(after:)` replays
 * from it wherever the client reconnects.
 *
 * A replica delivers its own events only when it reads them back from the stream, never at publish
 * time: a local shortcut would let a subscriber on the publishing replica see a different order than
 * the stream's, and a resume measured in the stream's order would then skip or repeat events.
 *
 * DRP events ride the stream too, marked with their replica, but are delivered live only on that
 * replica: every replica with DRP subscribers registers their patterns with DRP itself, so a DRP
 * event reaches each of those replicas directly, and fanning it out as well would deliver it twice.
 * A resume replays the DRP events of the replica it lands on only, for the same reason.
 *
 * Redis down (a failed XADD or read): the replica delivers its own events to its own subscribers at
 * once (they are not in the stream: other replicas miss them and they cannot be resumed from), logs
 * the transition once, and goes back to the stream when a read succeeds again. An XADD that timed out
 * but was applied later is recognised when read back and not delivered a second time.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { EventsExpiredError, type Deliver, type EventLog, type Position, type Replay, type RetentionOptions } from '../events/log.js';
import type { GatewayEvent } from '../events/types.js';
import { StoreUnavailableError, type Fleet } from './redis.js';

/** The stream's key below the fleet's keyPrefix (ioredis adds the prefix). */
export const EVENTS_STREAM_KEY = 'events';
/** Entries per XREAD and per XREVRANGE page. */
const PAGE = 500;

type Entry = [id: string, fields: string[]];

/** `ms-seq` as one comparable number. */
export function streamPosition(id: string): Position {
  const dash = id.indexOf('-');
  return (BigInt(id.slice(0, dash)) << 32n) | BigInt(id.slice(dash + 1));
}

export class RedisEventLog implements EventLog {
  #deliver: Deliver = () => {};
  #reader: Redis | null = null;
  #lastId: string | null = null;
  #closed = false;
  #up = true;
  #loggedParseFailure = false;
  /** Ids of this replica's events delivered locally while the stream was down (bounded by retention). */
  readonly #deliveredLocally = new Set<string>();
  readonly #logger: Logger;

  constructor(
    private readonly fleet: Fleet,
    private readonly options: RetentionOptions & { logger: Logger },
  ) {
    this.#logger = options.logger.child({ component: 'fleet-events' });
  }

  start(deliver: Deliver): void {
    this.#deliver = deliver;
    this.#reader = this.fleet.duplicate();
    void this.#readLoop(this.#reader);
  }

  append(event: GatewayEvent): void {
    if (!this.#up || !this.fleet.connected()) return this.#deliverLocally(event);
    this.fleet.redis
      .xadd(EVENTS_STREAM_KEY, 'MAXLEN', '~', String(this.options.retention), '*', 'o', this.fleet.replicaId, 'e', JSON.stringify(event))
      .catch((err: unknown) => {
        this.#setUp(false, err);
        this.#deliverLocally(event);
      });
  }

  async replay(after: string, accept: (event: GatewayEvent) => boolean): Promise<Replay> {
    const { retention, replayMax } = this.options;
    if (!this.fleet.connected()) throw new StoreUnavailableError('cannot read the event stream to resume');
    const matched: GatewayEvent[] = [];
    // Past replayMax, the walk goes on without collecting, to tell a long gap from an id not kept.
    let overflow = false;
    let through: Position | null = null;
    let end = '+';
    // Newest first, a page at a time: a resume after a blip finds its id in the first page. The
    // stream holds about `retention` entries, so the walk is bounded by it.
    for (;;) {
      let page: Entry[];
      try {
        page = (await this.fleet.redis.xrevrange(EVENTS_STREAM_KEY, end, '-', 'COUNT', PAGE)) as Entry[];
      } catch (err) {
        throw new StoreUnavailableError('cannot read the event stream to resume', { cause: err });
      }
      if (page.length === 0) throw new EventsExpiredError('retention', retention);
      through ??= streamPosition(page[0]![0]);
      for (const [, fields] of page) {
        const entry = this.#parse(fields);
        if (!entry) continue;
        if (entry.event.id === after) {
          if (overflow) throw new EventsExpiredError('replayMax', replayMax);
          return { events: matched.reverse(), through };
        }
        if (entry.origin !== this.fleet.replicaId && entry.event.source === 'DRP') continue;
        if (!overflow && accept(entry.event)) {
          matched.push(entry.event);
          if (matched.length > replayMax) overflow = true;
        }
      }
      end = `(${page.at(-1)![0]}`;
    }
  }

  close(): void {
    this.#closed = true;
    this.#reader?.disconnect();
  }

  async #readLoop(reader: Redis): Promise<void> {
    // Shorter than the command timeout, so a blocked read is not mistaken for a hung Redis.
    const blockMs = Math.max(100, Math.floor((this.fleet.redis.options.commandTimeout ?? 2_000) / 2));
    let failures = 0;
    while (!this.#closed) {
      try {
        if (this.#lastId === null) {
          const last = (await reader.xrevrange(EVENTS_STREAM_KEY, '+', '-', 'COUNT', 1)) as Entry[];
          this.#lastId = last[0]?.[0] ?? '0-0';
        }
        const result = (await reader.xread('COUNT', PAGE, 'BLOCK', blockMs, 'STREAMS', EVENTS_STREAM_KEY, this.#lastId)) as Array<[string, Entry[]]> | null;
        failures = 0;
        if (this.fleet.connected()) this.#setUp(true);
        for (const [id, fields] of result?.[0]?.[1] ?? []) {
          this.#lastId = id;
          this.#handle(id, fields);
        }
      } catch (err) {
        if (this.#closed) return;
        this.#setUp(false, err);
        failures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** Math.min(failures, 4), 1_000)).unref());
      }
    }
  }

  #handle(id: string, fields: string[]): void {
    const entry = this.#parse(fields);
    if (!entry) return;
    const { origin, event } = entry;
    if (origin === this.fleet.replicaId && this.#deliveredLocally.delete(event.id)) return;
    if (origin !== this.fleet.replicaId && event.source === 'DRP') return;
    this.#deliver(event, streamPosition(id));
  }

  #deliverLocally(event: GatewayEvent): void {
    this.#deliveredLocally.add(event.id);
    if (this.#deliveredLocally.size > this.options.retention) {
      this.#deliveredLocally.delete(this.#deliveredLocally.values().next().value!);
    }
    this.#deliver(event, null);
  }

  #parse(fields: string[]): { origin: string; event: GatewayEvent } | null {
    let origin: string | undefined;
    let json: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'o') origin = fields[i + 1];
      else if (fields[i] === 'e') json = fields[i + 1];
    }
    try {
      const event = JSON.parse(json ?? '') as GatewayEvent;
      if (origin !== undefined && typeof event?.id === 'string') return { origin, event };
    } catch {
      // Reported below.
    }
    if (!this.#loggedParseFailure) this.#logger.warn('fleet events: skipping a stream entry that is not an event (logged once)');
    this.#loggedParseFailure = true;
    return null;
  }

  #setUp(up: boolean, err?: unknown): void {
    if (up === this.#up) return;
    this.#up = up;
    if (up) this.#logger.info('fleet events: delivering through the Redis stream again');
    else {
      const reason = (err as NodeJS.ErrnoException | undefined)?.code ?? (err as Error | undefined)?.message ?? 'unknown';
      this.#logger.warn({ reason }, "fleet events: Redis stream unavailable, this replica's events reach its own subscribers only");
    }
  }
}
