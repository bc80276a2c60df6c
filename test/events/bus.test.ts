import { describe, expect, it } from 'vitest';
import { EventBus, SubscriberTooSlowError, type SubscriptionInfo } from '../../src/events/bus.js';
import { parseEventPattern } from '../../src/events/pattern.js';
import type { EventSource, GatewayEventInput } from '../../src/events/types.js';
import { GatewayError } from '../../src/errors.js';

function input(overrides: Partial<GatewayEventInput> = {}): GatewayEventInput {
  return {
    source: 'DRP',
    provider: 'drp1',
    time: '2024-01-01T00:00:00.000Z',
    type: 'machines',
    action: 'save',
    key: 'm1',
    principal: null,
    object: null,
    original: null,
    ...overrides,
  };
}

describe('EventBus', () => {
  it('assigns unique, increasing ULIDs and fans out to every subscriber', async () => {
    const bus = new EventBus();
    const a = bus.subscribe();
    const b = bus.subscribe();
    const first = bus.publish(input());
    const second = bus.publish(input({ key: 'm2' }));
    expect(first.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(second.id > first.id).toBe(true);
    for (const sub of [a, b]) {
      expect((await sub.next()).value).toEqual(first);
      expect((await sub.next()).value).toEqual(second);
    }
    bus.close();
  });

  it('delivers to a subscriber already waiting in next()', async () => {
    const bus = new EventBus();
    const sub = bus.subscribe();
    const pending = sub.next();
    const event = bus.publish(input());
    expect(await pending).toEqual({ value: event, done: false });
    expect(sub.queued).toBe(0);
  });

  it('filters by source, provider and pattern', async () => {
    const bus = new EventBus();
    const bySource = bus.subscribe({ sources: ['ABIQUO'] });
    const byProvider = bus.subscribe({ providers: ['drp2'] });
    const byPattern = bus.subscribe({ pattern: parseEventPattern('machines.*.m2') });
    const everything = bus.subscribe({ sources: [], providers: [] });
    const events: Array<[EventSource, string, string]> = [
      ['DRP', 'drp1', 'm1'],
      ['ABIQUO', 'abq', 'm1'],
      ['DRP', 'drp2', 'm2'],
      ['GATEWAY', 'gateway', 'm3'],
    ];
    for (const [source, provider, key] of events) bus.publish(input({ source, provider, key }));
    bus.close();
    const keys = async (sub: AsyncIterable<{ source: string; provider: string; key: string }>): Promise<string[]> => {
      const seen: string[] = [];
      for await (const e of sub) seen.push(`${e.source}/${e.provider}/${e.key}`);
      return seen;
    };
    expect(await keys(bySource)).toEqual(['ABIQUO/abq/m1']);
    expect(await keys(byProvider)).toEqual(['DRP/drp2/m2']);
    expect(await keys(byPattern)).toEqual(['DRP/drp2/m2']);
    expect(await keys(everything)).toHaveLength(4);
  });

  it('drops a subscriber that reads nothing while 10,000 events are published, keeping its queue bounded', async () => {
    const removed: Array<[SubscriptionInfo, string]> = [];
    const bus = new EventBus({ onUnsubscribe: (info, reason) => removed.push([info, reason]) });
    const slow = bus.subscribe({}, { maxQueue: 1000 });
    const keeper = bus.subscribe({}, { maxQueue: 20_000 });
    let maxSeen = 0;
    for (let i = 0; i < 10_000; i++) {
      bus.publish(input({ key: `m${i}` }));
      maxSeen = Math.max(maxSeen, slow.queued);
    }
    expect(maxSeen).toBe(1000);
    expect(slow.queued).toBe(0); // freed when dropped
    expect(bus.subscriberCount).toBe(1);
    expect(removed).toEqual([[slow.info, 'too-slow']]);

    const failure = await slow.next().then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(SubscriberTooSlowError);
    expect(failure).toBeInstanceOf(GatewayError);
    expect((failure as GatewayError).code).toBe('SUBSCRIBER_TOO_SLOW');
    expect(await slow.next()).toEqual({ value: undefined, done: true });

    expect(keeper.queued).toBe(10_000);
    let count = 0;
    while (keeper.queued > 0) {
      const { value } = await keeper.next();
      expect(value?.key).toBe(`m${count++}`);
    }
    expect(count).toBe(10_000);
  });

  it('uses a default queue bound of 1000', () => {
    const bus = new EventBus();
    const sub = bus.subscribe();
    for (let i = 0; i < 1000; i++) bus.publish(input());
    expect(bus.subscriberCount).toBe(1);
    bus.publish(input());
    expect(bus.subscriberCount).toBe(0);
    expect(sub.queued).toBe(0);
  });

  it('return() unsubscribes at once, ending a pending next()', async () => {
    const reasons: string[] = [];
    const bus = new EventBus();
    bus.onUnsubscribe((_info, reason) => reasons.push(reason));
    const sub = bus.subscribe();
    const pending = sub.next();
    expect(bus.subscriberCount).toBe(1);
    await sub.return?.();
    expect(bus.subscriberCount).toBe(0);
    expect(await pending).toEqual({ value: undefined, done: true });
    bus.publish(input());
    expect(sub.queued).toBe(0);
    await sub.return?.();
    expect(reasons).toEqual(['return']);
  });

  it('breaking out of for-await unsubscribes', async () => {
    const bus = new EventBus();
    const sub = bus.subscribe();
    bus.publish(input());
    bus.publish(input());
    for await (const event of sub) {
      expect(event.type).toBe('machines');
      break;
    }
    expect(bus.subscriberCount).toBe(0);
  });

  it('tells listeners about subscribe and unsubscribe, and survives a throwing listener', async () => {
    const errors: unknown[] = [];
    const seen: string[] = [];
    const bus = new EventBus({ onListenerError: (err) => errors.push(err) });
    bus.onSubscribe(() => {
      throw new Error('listener bug');
    });
    const stop = bus.onSubscribe((info) => seen.push(`+${info.id}:${info.filter.pattern ? 'p' : '-'}`));
    bus.onUnsubscribe((info) => seen.push(`-${info.id}`));
    const a = bus.subscribe({ pattern: parseEventPattern('*.*.*') });
    const b = bus.subscribe();
    stop();
    bus.subscribe();
    await a.return?.();
    bus.close();
    expect(seen).toEqual([`+${a.info.id}:p`, `+${b.info.id}:-`, `-${a.info.id}`, `-${b.info.id}`, `-${b.info.id + 1}`]);
    expect(errors).toHaveLength(3);
    expect(bus.subscriberCount).toBe(0);
  });

  it('refuses a non-positive maxQueue', () => {
    expect(() => new EventBus().subscribe({}, { maxQueue: 0 })).toThrow(RangeError);
  });
});
