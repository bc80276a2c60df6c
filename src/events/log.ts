/**
 * Where published events go before subscribers see them, and what a resuming subscriber replays.
 *
 * The bus hands every event it publishes to its log; the log calls `deliver` for each event in its
 * own order (the order every subscriber sees, and the order `after` is measured in). The memory log
 * delivers at once and keeps the last `events.retention` events in a ring; the fleet log
 * (src/fleet/events.ts) delivers what it reads back from a Redis Stream, every replica in one order.
 */
import { isValid } from 'ulid';
import { BadUserInputError, ErrorCode, GatewayError } from '../errors.js';
import type { GatewayEvent } from './types.js';

/** `after` is not within what the gateway keeps (or the gap is larger than one resume replays): re-read state, subscribe again without `after`. */
export class EventsExpiredError extends GatewayError {
  declare readonly code: typeof ErrorCode.EventsExpired;
  constructor(reason: 'retention' | 'replayMax', limit: number) {
    super(
      ErrorCode.EventsExpired,
      reason === 'retention'
        ? `no event with this id is kept any more (the last ${limit} events are, fewer past events.retentionBytes): resync and subscribe without after`
        : `more than ${limit} matching events followed this id (events.replayMax): resync and subscribe without after`,
      { reason, limit },
    );
  }
}

/** A delivered event's place in its log (a ring sequence number, or a Redis Stream id); comparable across one log. */
export type Position = bigint;

/** Events `after` an id, oldest first, and the position they run through (the seam with live delivery). */
export interface Replay {
  events: GatewayEvent[];
  /** Live events at or before this position are already in `events` (or were not matching). */
  through: Position;
}

export type Deliver = (event: GatewayEvent, position: Position | null) => void;

export interface EventLog {
  /** Called once by the bus: where this log hands events to subscribers. */
  start(deliver: Deliver): void;
  /** A newly published event (id assigned). */
  append(event: GatewayEvent): void;
  /** The events after `after` that `accept` takes; throws EventsExpiredError, or StoreUnavailableError in a fleet. */
  replay(after: string, accept: (event: GatewayEvent) => boolean): Replay | Promise<Replay>;
  close(): void;
}

export interface RetentionOptions {
  /** Events kept for resuming (`events.retention`). */
  retention: number;
  /** Most bytes of events kept in one process's memory (`events.retentionBytes`); not applied to the Redis Stream. */
  retentionBytes: number;
  /** Most matching events one resume replays (`events.replayMax`). */
  replayMax: number;
}

export const DEFAULT_RETENTION: RetentionOptions = { retention: 10_000, retentionBytes: 64 * 1024 * 1024, replayMax: 1_000 };

/** BAD_USER_INPUT unless `after` is an event id (a ULID). */
export function parseAfter(after: string): string {
  if (typeof after !== 'string' || !isValid(after)) throw new BadUserInputError('after must be an event id (a 26-character ULID)', { field: 'after' });
  return after.toUpperCase();
}

/**
 * One process: events delivered as they are published, the last `retention` kept in memory, and no
 * more than `retentionBytes` of them (an event's size is its JSON's length): a flood of large
 * upstream objects shortens how far back a resume reaches instead of growing memory.
 */
export class MemoryEventLog implements EventLog {
  private deliver: Deliver = () => {};
  /** Oldest first from `head`; compacted once half of it is evicted. */
  private kept: Array<{ event: GatewayEvent; bytes: number } | undefined> = [];
  private head = 0;
  private bytes = 0;
  /** Position of the next event. */
  private next = 0n;

  constructor(private readonly options: RetentionOptions = DEFAULT_RETENTION) {}

  start(deliver: Deliver): void {
    this.deliver = deliver;
  }

  append(event: GatewayEvent): void {
    const position = this.next++;
    const bytes = sizeOf(event);
    this.kept.push({ event, bytes });
    this.bytes += bytes;
    // The newest event is kept even when it alone is over the byte budget.
    while (this.kept.length - this.head > 1 && (this.kept.length - this.head > this.options.retention || this.bytes > this.options.retentionBytes)) {
      this.bytes -= this.kept[this.head]!.bytes;
      this.kept[this.head++] = undefined;
    }
    if (this.head >= 1024 && this.head * 2 >= this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
    this.deliver(event, position);
  }

  replay(after: string, accept: (event: GatewayEvent) => boolean): Replay {
    const { retention, replayMax } = this.options;
    const through = this.next - 1n;
    const matched: GatewayEvent[] = [];
    // Past replayMax, the walk goes on without collecting, to tell a long gap from an id not kept.
    let overflow = false;
    // Newest first: a resume after a blip finds its id within the first few entries.
    for (let i = this.kept.length - 1; i >= this.head; i--) {
      const { event } = this.kept[i]!;
      if (event.id === after) {
        if (overflow) throw new EventsExpiredError('replayMax', replayMax);
        return { events: matched.reverse(), through };
      }
      if (!overflow && accept(event)) {
        matched.push(event);
        if (matched.length > replayMax) overflow = true;
      }
    }
    throw new EventsExpiredError('retention', retention);
  }

  close(): void {}
}

/** An event's size as JSON (what a client receives); an event that cannot be serialised counts as nothing here. */
function sizeOf(event: GatewayEvent): number {
  try {
    return JSON.stringify(event).length;
  } catch {
    return 0;
  }
}
