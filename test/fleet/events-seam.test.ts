/**
 * The seam between a resume's replay and live delivery, driven through the bus with a log whose
 * timing the test controls: in a fleet the stream reader and the replay read run concurrently, so
 * live events may arrive before or after the replay's answer, already in it or not.
 */
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.js';
import { EventsExpiredError, type Deliver, type EventLog, type Replay } from '../../src/events/log.js';
import type { GatewayEvent, GatewayEventInput } from '../../src/events/types.js';

class ManualLog implements EventLog {
  deliver: Deliver = () => {};
  appended: GatewayEvent[] = [];
  answer!: { resolve: (r: Replay) => void; reject: (e: unknown) => void };
  start(deliver: Deliver): void {
    this.deliver = deliver;
  }
  append(event: GatewayEvent): void {
    this.appended.push(event);
  }
  replay(): Promise<Replay> {
    return new Promise((resolve, reject) => (this.answer = { resolve, reject }));
  }
  close(): void {}
}

const input = (key: string): GatewayEventInput => ({
  source: 'GATEWAY',
  provider: 'gateway',
  time: '2030-01-01T00:00:00.000Z',
  type: 'consoles',
  action: 'opened',
  key,
  principal: null,
  object: null,
  original: null,
});

async function take(sub: AsyncIterator<GatewayEvent>, n: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push((await sub.next()).value.key);
  return keys;
}

describe('a resumed subscription at the seam between replay and live events', () => {
  it('yields the replay, then live events, skipping those the replay held whether they came before or after its answer', async () => {
    const log = new ManualLog();
    const bus = new EventBus({ log });
    const [e1, e2, e3, e4, e5] = ['e1', 'e2', 'e3', 'e4', 'e5'].map((k) => bus.publish(input(k)));
    const sub = bus.subscribe({}, { after: e1!.id });
    const first = sub.next();
    // The reader delivers e2 and e3 before the replay answers (they are in it too) and an event of
    // an outage, delivered locally (no position: never in the stream, so never in a replay).
    log.deliver(e2!, 2n);
    log.deliver(e3!, 3n);
    const local = bus.publish(input('local'));
    log.deliver(local, null);
    log.answer.resolve({ events: [e2!, e3!, e4!], through: 4n });
    expect((await first).value.key).toBe('e2');
    // The reader lags: e4 (in the replay) arrives after the answer was taken, e5 is new.
    log.deliver(e4!, 4n);
    log.deliver(e5!, 5n);
    expect(await take(sub, 4)).toEqual(['e3', 'e4', 'local', 'e5']);
    expect(sub.queued).toBe(0);
    bus.close();
  });

  it('ends the subscription with the replay failure, and removes it from the bus', async () => {
    const log = new ManualLog();
    const bus = new EventBus({ log });
    const sub = bus.subscribe({}, { after: bus.publish(input('e1')).id });
    const first = sub.next();
    log.answer.reject(new EventsExpiredError('retention', 10));
    await expect(first).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
    expect(bus.subscriberCount).toBe(0);
    expect((await sub.next()).done).toBe(true);
  });

  it('refuses an after that is not an event id with BAD_USER_INPUT before subscribing', () => {
    const bus = new EventBus();
    expect(() => bus.subscribe({}, { after: '42' })).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(bus.subscriberCount).toBe(0);
  });
});
