import { describe, expect, it } from 'vitest';
import { collect, roundTrip } from '../helpers/subscriptions.js';
import { CONSOLE_EVENTS, eventsOf, openAndCloseConsole, towerGateway, useEventGateways } from './events-helpers.js';

const { gateway, client } = useEventGateways();

describe('resumable events on one gateway without Redis (the ring in memory)', () => {
  it('replays exactly the events a subscriber missed, in order, then continues live', async () => {
    const gw = gateway(await towerGateway(null));
    const witnessClient = client(gw);
    const witness = collect(witnessClient, CONSOLE_EVENTS);
    await roundTrip(witnessClient);
    const first = client(gw);
    const cut = collect(first, CONSOLE_EVENTS);
    await roundTrip(first);
    await openAndCloseConsole(gw, 0);
    await cut.until(2);
    const last = eventsOf(cut.received).at(-1)!.id;
    await first.dispose();

    await openAndCloseConsole(gw, 1);
    await openAndCloseConsole(gw, 2);
    const resumedClient = client(gw);
    const resumed = collect(resumedClient, CONSOLE_EVENTS, { after: last });
    await roundTrip(resumedClient);
    await openAndCloseConsole(gw, 0);
    await witness.until(8);
    await resumed.until(6);
    expect(eventsOf(resumed.received)).toEqual(eventsOf(witness.received).slice(2));
    expect(eventsOf(resumed.received).map((e) => e.key)).toEqual(eventsOf(witness.received).slice(2).map((e) => e.key));
    expect(resumed.ended()).toBeNull();
  });

  it('answers EVENTS_EXPIRED for an id older than events.retention, and replays from one still kept', async () => {
    const gw = gateway(await towerGateway(null, { retention: 3 }));
    const cl = client(gw);
    const live = collect(cl, CONSOLE_EVENTS);
    await roundTrip(cl);
    await openAndCloseConsole(gw, 0);
    await openAndCloseConsole(gw, 1);
    await live.until(4);
    const ids = eventsOf(live.received).map((e) => e.id);
    // The ring holds the last three events: the first is gone, the second is the oldest kept.
    const expired = collect(cl, CONSOLE_EVENTS, { after: ids[0] });
    await expired.finished;
    expect(expired.received[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'EVENTS_EXPIRED', reason: 'retention', limit: 3 });
    const kept = collect(cl, CONSOLE_EVENTS, { after: ids[1] });
    await kept.until(2);
    expect(eventsOf(kept.received).map((e) => e.id)).toEqual(ids.slice(2));
  });

  it('keeps no more than events.retentionBytes of events: older ones go first, and resuming from them is EVENTS_EXPIRED', async () => {
    const gw = gateway(await towerGateway(null, { retentionBytes: 1024 }));
    const cl = client(gw);
    const live = collect(cl, CONSOLE_EVENTS);
    await roundTrip(cl);
    for (const vm of [0, 1, 2, 0]) await openAndCloseConsole(gw, vm);
    await live.until(8);
    const ids = eventsOf(live.received).map((e) => e.id);
    const expired = collect(cl, CONSOLE_EVENTS, { after: ids[0] });
    await expired.finished;
    expect(expired.received[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'EVENTS_EXPIRED', reason: 'retention' });
    const recent = collect(cl, CONSOLE_EVENTS, { after: ids[6] });
    await recent.until(1);
    expect(eventsOf(recent.received).map((e) => e.id)).toEqual([ids[7]]);
  });
});
