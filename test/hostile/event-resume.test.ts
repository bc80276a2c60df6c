/**
 * A hostile resume: `events(after:)` with a cursor that is garbage, absurd (before anything, or far in
 * the future), from another gateway, or too far back (`events.retention`, `events.replayMax`). Each is
 * answered on its own subscription (BAD_USER_INPUT or EVENTS_EXPIRED), costs at most one walk of the
 * bounded ring, holds nothing afterwards, and leaves the connection serving live events. The same over
 * a fleet's Redis Stream is in test/fleet/events-fleet.test.ts.
 */
import type { Client } from 'graphql-ws';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import type { TowerGateway } from '../helpers/gateway.js';
import { collect, roundTrip } from '../helpers/subscriptions.js';
import { CONSOLE_EVENTS, eventsOf, openAndCloseConsole, towerGateway, useEventGateways } from '../fleet/events-helpers.js';

const { gateway, client } = useEventGateways();

/** Runs one resume from `after` to its end and returns its error's extensions. */
async function refused(cl: Client, after: unknown): Promise<Record<string, unknown> | undefined> {
  const sub = collect(cl, CONSOLE_EVENTS, { after });
  await sub.finished;
  expect(sub.received).toHaveLength(1);
  return sub.received[0]?.errors?.[0]?.extensions;
}

async function metric(t: TowerGateway, name: string): Promise<string[]> {
  const text = await (await fetch(`${t.gateway.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('hostile event resumes (the ring in memory)', () => {
  it('garbage cursors are BAD_USER_INPUT before anything is read; the connection goes on serving', async () => {
    const gw = gateway(await towerGateway(null));
    const cl = client(gw);
    const garbage = [
      'not-an-event-id',
      'x'.repeat(10_000),
      '01ARZ3NDEKTSV4RRFFQ69G5FAI', // 26 characters, but I is not in the ULID alphabet
      '01ARZ3NDEKTSV4RRFFQ69G5FA', // one short
      "' OR 1=1 --",
      '',
      42, // an ID variable may come as a number
    ];
    for (const after of garbage) expect(await refused(cl, after), String(after).slice(0, 30)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });

    const live = collect(cl, CONSOLE_EVENTS);
    await roundTrip(cl);
    await openAndCloseConsole(gw, 0);
    await live.until(2);
    expect(eventsOf(live.received).map((e) => e.action)).toEqual(['opened', 'closed']);
  });

  it('absurd, foreign and too-old cursors are EVENTS_EXPIRED, counted and logged; none holds a subscriber, and live delivery goes on', async () => {
    const gw = gateway(await towerGateway(null, { retention: 4, replayMax: 2 }));
    const cl = client(gw);
    const live = collect(cl, CONSOLE_EVENTS);
    await roundTrip(cl);
    await openAndCloseConsole(gw, 0);
    await openAndCloseConsole(gw, 1);
    await live.until(4);
    const ids = eventsOf(live.received).map((e) => e.id);

    const cursors: Array<[string, string, Record<string, unknown>]> = [
      ['the zero id, before any event', '00000000000000000000000000', { reason: 'retention', limit: 4 }],
      ['the largest id, far in the future', '7ZZZZZZZZZZZZZZZZZZZZZZZZZ', { reason: 'retention' }],
      ['an id this gateway never published (another gateway, now)', ulid(), { reason: 'retention' }],
      ['a kept id too far back for one resume', ids[0]!, { reason: 'replayMax', limit: 2 }],
    ];
    for (const [what, after, details] of cursors) expect(await refused(cl, after), what).toMatchObject({ code: 'EVENTS_EXPIRED', ...details });
    expect(await refused(cl, ids[0]!.toLowerCase())).toMatchObject({ code: 'EVENTS_EXPIRED', reason: 'replayMax' });

    // Within reach (lower case is the same id): exactly what followed it.
    const resumed = collect(cl, CONSOLE_EVENTS, { after: ids[1]!.toLowerCase() });
    await resumed.until(2);
    expect(eventsOf(resumed.received).map((e) => e.id)).toEqual(ids.slice(2));

    expect(await metric(gw, 'events_resumes_total{outcome="EVENTS_EXPIRED"}')).toEqual(['events_resumes_total{outcome="EVENTS_EXPIRED"} 5']);
    expect(gw.logs.records().filter((r) => r.msg === 'event resume refused')).toHaveLength(5);
    // The live subscription and the resumed one; the refused resumes left nothing behind.
    expect(await metric(gw, 'event_subscribers_active')).toContain('event_subscribers_active 2');

    await openAndCloseConsole(gw, 2);
    await live.until(6);
    await resumed.until(4);
    expect(live.ended()).toBeNull();
  });
});
