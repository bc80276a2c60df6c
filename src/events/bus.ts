/**
 * The one in-process event bus: sources publish normalised events, GraphQL subscriptions read them.
 *
 * Each subscriber has its own bounded queue. A subscriber that falls `maxQueue` events behind is
 * dropped (its iterator throws SubscriberTooSlowError) rather than slowing the publisher or growing
 * memory without bound: one stuck browser tab must not cost the gateway memory for every event.
 *
 * Ids are ULIDs from one monotonic factory: unique across replicas and ordered by time. Published
 * events go through the bus's log (src/events/log.ts), which delivers them in its own order and
 * keeps the recent ones for subscribers that resume with `after`.
 */
import { monotonicFactory } from 'ulid';
import { ErrorCode, GatewayError } from '../errors.js';
import type { EventPublisher, EventSource, GatewayEvent, GatewayEventInput } from './types.js';
import { matchesPattern, type EventPattern } from './pattern.js';
import { MemoryEventLog, parseAfter, type EventLog, type Position, type Replay } from './log.js';

/** Thrown from a dropped subscriber's iterator. */
export class SubscriberTooSlowError extends GatewayError {
  constructor(maxQueue: number) {
    super(
      ErrorCode.SubscriberTooSlow,
      `subscription dropped: more than ${maxQueue} events were waiting to be read`,
      { maxQueue },
    );
  }
}

export interface SubscribeFilter {
  /** Only events whose type.action.key match. Default: all. */
  pattern?: EventPattern;
  /** Only events from these sources. Default (or empty): all sources. */
  sources?: readonly EventSource[];
  /** Only events from these provider names. Default (or empty): all providers. */
  providers?: readonly string[];
}

export interface SubscribeOptions {
  /** Events a subscriber may have waiting before it is dropped. Default: 1000. */
  maxQueue?: number;
  /**
   * An event id: first replay the matching events after it (from the bus's log), then continue live,
   * with nothing lost or repeated at the seam. A malformed id throws BadUserInputError at once; one the
   * log no longer has ends the iterator with EventsExpiredError.
   */
  after?: string;
}

/** What subscribe/unsubscribe listeners see; the DRP client reference-counts registrations from it. */
export interface SubscriptionInfo {
  /** Unique per bus. */
  readonly id: number;
  readonly filter: Readonly<SubscribeFilter>;
}

export type UnsubscribeReason = 'return' | 'too-slow' | 'closed' | 'replay-failed';

export interface EventBusOptions {
  /** Called after a subscriber is added. */
  onSubscribe?: (info: SubscriptionInfo) => void;
  /** Called exactly once per subscriber, after it is removed. */
  onUnsubscribe?: (info: SubscriptionInfo, reason: UnsubscribeReason) => void;
  /** Where listener exceptions go (they never reach publishers). Default: ignored. */
  onListenerError?: (err: unknown) => void;
  /** Delivery order and replay. @default a MemoryEventLog with DEFAULT_RETENTION */
  log?: EventLog;
  /** Told how each `after` resume ended: the events it replayed, or why it was refused. */
  onReplay?: (outcome: { events: number } | { error: unknown }) => void;
}

export const DEFAULT_MAX_QUEUE = 1000;

export class EventBus implements EventPublisher {
  private readonly nextEventId = monotonicFactory();
  private readonly log: EventLog;
  private nextSubscriberId = 1;
  private readonly subscribers = new Set<Subscriber>();
  private readonly subscribeListeners = new Set<(info: SubscriptionInfo) => void>();
  private readonly unsubscribeListeners = new Set<(info: SubscriptionInfo, reason: UnsubscribeReason) => void>();
  private readonly onListenerError: (err: unknown) => void;
  private readonly onReplay: NonNullable<EventBusOptions['onReplay']>;

  constructor(options: EventBusOptions = {}) {
    if (options.onSubscribe) this.subscribeListeners.add(options.onSubscribe);
    if (options.onUnsubscribe) this.unsubscribeListeners.add(options.onUnsubscribe);
    this.onListenerError = options.onListenerError ?? (() => {});
    this.onReplay = options.onReplay ?? (() => {});
    this.log = options.log ?? new MemoryEventLog();
    this.log.start((event, position) => this.deliver(event, position));
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Assigns the next id and hands the event to the log, which delivers it (at once in memory); never blocks. */
  publish(input: GatewayEventInput): GatewayEvent {
    const event: GatewayEvent = { id: this.nextEventId(), ...input };
    this.log.append(event);
    return event;
  }

  /** Hands a logged event to every matching subscriber (the log calls it, in the log's order). */
  private deliver(event: GatewayEvent, position: Position | null): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.accepts(event)) subscriber.push(event, position);
    }
  }

  subscribe(filter: SubscribeFilter = {}, options: SubscribeOptions = {}): EventSubscription {
    const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new RangeError('maxQueue must be a positive integer');
    const after = options.after !== undefined ? parseAfter(options.after) : undefined;
    const info: SubscriptionInfo = Object.freeze({ id: this.nextSubscriberId++, filter: Object.freeze({ ...filter }) });
    const subscriber = new Subscriber(info, maxQueue, (reason) => this.remove(subscriber, reason));
    // Live first, then the replay: whatever is delivered meanwhile waits in the queue, and the
    // replay's `through` tells which of it the replay already holds.
    this.subscribers.add(subscriber);
    this.notify(this.subscribeListeners, info);
    if (after !== undefined) {
      let replay: Replay | Promise<Replay>;
      try {
        replay = this.log.replay(after, (e) => subscriber.accepts(e));
        if (!(replay instanceof Promise)) this.observeReplay({ events: replay.events.length });
        else replay.then((r) => this.observeReplay({ events: r.events.length }), (error: unknown) => this.observeReplay({ error }));
      } catch (error) {
        this.observeReplay({ error });
        replay = Promise.reject(error);
      }
      subscriber.replayFrom(replay);
    }
    return subscriber;
  }

  /** Registers a listener called after each subscribe; returns a function that removes it. */
  onSubscribe(listener: (info: SubscriptionInfo) => void): () => void {
    this.subscribeListeners.add(listener);
    return () => this.subscribeListeners.delete(listener);
  }

  /** Registers a listener called once after each subscriber leaves; returns a function that removes it. */
  onUnsubscribe(listener: (info: SubscriptionInfo, reason: UnsubscribeReason) => void): () => void {
    this.unsubscribeListeners.add(listener);
    return () => this.unsubscribeListeners.delete(listener);
  }

  /** Ends every subscription: iterators yield what is already queued, then finish. Stops the log. */
  close(): void {
    this.log.close();
    for (const subscriber of [...this.subscribers]) subscriber.end('closed');
  }

  private observeReplay(outcome: { events: number } | { error: unknown }): void {
    try {
      this.onReplay(outcome);
    } catch (err) {
      this.onListenerError(err);
    }
  }

  private remove(subscriber: Subscriber, reason: UnsubscribeReason): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.notify(this.unsubscribeListeners, subscriber.info, reason);
  }

  private notify<A extends unknown[]>(listeners: Set<(...args: A) => void>, ...args: A): void {
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}

/** A subscriber's view: an async iterator of events, plus what it subscribed with. */
export interface EventSubscription extends AsyncIterableIterator<GatewayEvent> {
  readonly info: SubscriptionInfo;
  /** Events waiting to be read (never more than maxQueue). */
  readonly queued: number;
}

type Pending = { resolve: (r: IteratorResult<GatewayEvent>) => void; reject: (e: unknown) => void };

class Subscriber implements EventSubscription {
  private queue = new EventQueue();
  private pending: Pending | null = null;
  private done = false;
  /** Set when dropped; thrown once by the next `next()`. */
  private failure: Error | null = null;
  private readonly sources: ReadonlySet<string> | null;
  private readonly providers: ReadonlySet<string> | null;
  private readonly pattern: EventPattern | undefined;
  /** While a replay loads: settles when it has (then `replayed` holds it, or `failure` is set). */
  private loading: Promise<void> | null = null;
  private replayed: GatewayEvent[] = [];
  /** Live events at or before this position were in the replay: skipped. */
  private through: Position | null = null;

  constructor(
    readonly info: SubscriptionInfo,
    private readonly maxQueue: number,
    private readonly onEnd: (reason: UnsubscribeReason) => void,
  ) {
    const { sources, providers, pattern } = info.filter;
    this.sources = sources && sources.length > 0 ? new Set(sources) : null;
    this.providers = providers && providers.length > 0 ? new Set(providers) : null;
    this.pattern = pattern;
  }

  get queued(): number {
    return this.queue.length;
  }

  accepts(event: GatewayEvent): boolean {
    return (
      (this.sources === null || this.sources.has(event.source)) &&
      (this.providers === null || this.providers.has(event.provider)) &&
      (this.pattern === undefined || matchesPattern(this.pattern, event))
    );
  }

  /** Replay first: `next()` waits for it, yields it, then the live queue without what it already held. */
  replayFrom(replay: Replay | Promise<Replay>): void {
    const take = (r: Replay): void => {
      this.loading = null;
      if (this.done) return;
      this.replayed = r.events;
      this.through = r.through;
      this.queue.dropThrough(r.through);
    };
    if (!(replay instanceof Promise)) return take(replay);
    this.queue.trackPositions();
    this.loading = replay.then(take, (err: unknown) => {
      this.loading = null;
      if (this.done) return;
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.end('replay-failed');
    });
  }

  push(event: GatewayEvent, position: Position | null = null): void {
    if (this.done) return;
    if (position !== null && this.through !== null && position <= this.through) return;
    if (this.pending) {
      const { resolve } = this.pending;
      this.pending = null;
      resolve({ value: event, done: false });
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.failure = new SubscriberTooSlowError(this.maxQueue);
      this.end('too-slow');
      return;
    }
    this.queue.push(event, position);
  }

  next(): Promise<IteratorResult<GatewayEvent>> {
    if (this.loading) return this.loading.then(() => this.next());
    const replayed = this.replayed.shift();
    if (replayed !== undefined) return Promise.resolve({ value: replayed, done: false });
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.pending) return Promise.reject(new Error('next() called while a previous next() is still pending'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<GatewayEvent>> {
    this.failure = null;
    this.end('return');
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<GatewayEvent>> {
    this.failure = null;
    this.end('return');
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  end(reason: UnsubscribeReason): void {
    if (this.done) return;
    this.done = true;
    // On bus close the reader may drain what it has; otherwise the queue is freed at once.
    if (reason !== 'closed') {
      this.queue = new EventQueue();
      this.replayed = [];
    }
    const pending = this.pending;
    this.pending = null;
    pending?.resolve({ value: undefined, done: true });
    this.onEnd(reason);
  }
}

/** FIFO with O(1) shift: a head index into an array that is compacted once half of it is consumed. */
class EventQueue {
  private items: Array<GatewayEvent | undefined> = [];
  /** Each queued event's log position, kept only while a replay loads (nothing is shifted meanwhile). */
  private positions: Array<Position | null> | null = null;
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(event: GatewayEvent, position: Position | null = null): void {
    this.items.push(event);
    this.positions?.push(position);
  }

  /** Keep positions from now until `dropThrough`. */
  trackPositions(): void {
    this.positions = [];
  }

  /** Removes the events at or before `through` (the replay holds them); positions are not kept after. */
  dropThrough(through: Position): void {
    const kept: GatewayEvent[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const p = this.positions?.[i] ?? null;
      if (p === null || p > through) kept.push(this.items[i]!);
    }
    this.items = kept;
    this.head = 0;
    this.positions = null;
  }

  shift(): GatewayEvent | undefined {
    if (this.head >= this.items.length) return undefined;
    const event = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return event;
  }
}
