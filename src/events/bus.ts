/**
 * The one in-process event bus: sources publish normalised events, GraphQL subscriptions read them.
 *
 * Each subscriber has its own bounded queue. A subscriber that falls `maxQueue` events behind is
 * dropped (its iterator throws SubscriberTooSlowError) rather than slowing the publisher or growing
 * memory without bound: one stuck browser tab must not cost the gateway memory for every event.
 */
import { ErrorCode, GatewayError } from '../errors.js';
import type { EventPublisher, EventSource, GatewayEvent, GatewayEventInput } from './types.js';
import { matchesPattern, type EventPattern } from './pattern.js';

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
}

/** What subscribe/unsubscribe listeners see; the DRP client reference-counts registrations from it. */
export interface SubscriptionInfo {
  /** Unique per bus. */
  readonly id: number;
  readonly filter: Readonly<SubscribeFilter>;
}

export type UnsubscribeReason = 'return' | 'too-slow' | 'closed';

export interface EventBusOptions {
  /** Called after a subscriber is added. */
  onSubscribe?: (info: SubscriptionInfo) => void;
  /** Called exactly once per subscriber, after it is removed. */
  onUnsubscribe?: (info: SubscriptionInfo, reason: UnsubscribeReason) => void;
  /** Where listener exceptions go (they never reach publishers). Default: ignored. */
  onListenerError?: (err: unknown) => void;
}

export const DEFAULT_MAX_QUEUE = 1000;

export class EventBus implements EventPublisher {
  private nextEventId = 1;
  private nextSubscriberId = 1;
  private readonly subscribers = new Set<Subscriber>();
  private readonly subscribeListeners = new Set<(info: SubscriptionInfo) => void>();
  private readonly unsubscribeListeners = new Set<(info: SubscriptionInfo, reason: UnsubscribeReason) => void>();
  private readonly onListenerError: (err: unknown) => void;

  constructor(options: EventBusOptions = {}) {
    if (options.onSubscribe) this.subscribeListeners.add(options.onSubscribe);
    if (options.onUnsubscribe) this.unsubscribeListeners.add(options.onUnsubscribe);
    this.onListenerError = options.onListenerError ?? (() => {});
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Assigns the next id and hands the event to every matching subscriber; never blocks. */
  publish(input: GatewayEventInput): GatewayEvent {
    const event: GatewayEvent = { id: String(this.nextEventId++), ...input };
    for (const subscriber of this.subscribers) {
      if (subscriber.accepts(event)) subscriber.push(event);
    }
    return event;
  }

  subscribe(filter: SubscribeFilter = {}, options: SubscribeOptions = {}): EventSubscription {
    const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new RangeError('maxQueue must be a positive integer');
    const info: SubscriptionInfo = Object.freeze({ id: this.nextSubscriberId++, filter: Object.freeze({ ...filter }) });
    const subscriber = new Subscriber(info, maxQueue, (reason) => this.remove(subscriber, reason));
    this.subscribers.add(subscriber);
    this.notify(this.subscribeListeners, info);
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

  /** Ends every subscription: iterators yield what is already queued, then finish. */
  close(): void {
    for (const subscriber of [...this.subscribers]) subscriber.end('closed');
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

  push(event: GatewayEvent): void {
    if (this.done) return;
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
    this.queue.push(event);
  }

  next(): Promise<IteratorResult<GatewayEvent>> {
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
    if (reason !== 'closed') this.queue = new EventQueue();
    const pending = this.pending;
    this.pending = null;
    pending?.resolve({ value: undefined, done: true });
    this.onEnd(reason);
  }
}

/** FIFO with O(1) shift: a head index into an array that is compacted once half of it is consumed. */
class EventQueue {
  private items: Array<GatewayEvent | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(event: GatewayEvent): void {
    this.items.push(event);
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
