import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { startDrpSimulator } from '../../src/simulators/drp/index.js';
import type { TowerGateway } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { collect, commandSeen, roundTrip } from '../helpers/subscriptions.js';
import { CONSOLE_EVENTS, eventsOf, eventually, openAndCloseConsole, towerGateway, useEventGateways } from './events-helpers.js';

let redis: RedisServer;
const { gateway, client, dispose } = useEventGateways();
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

async function fleet(n: number, events: Record<string, number> = {}, extraProviders: Record<string, unknown>[] = []): Promise<TowerGateway[]> {
  const keyPrefix = `evt${Math.random().toString(36).slice(2, 8)}:`;
  const started = await Promise.all(Array.from({ length: n }, () => towerGateway(redis.url, events, keyPrefix, extraProviders)));
  return started.map(gateway);
}

describe('events across a fleet of replicas on one Redis', () => {
  it('delivers an event born on A to subscribers on A, B and C, once each, with one id and in one order', async () => {
    const [a, b, c] = await fleet(3);
    const subs = [a!, b!, c!].map((t) => {
      const cl = client(t);
      return { cl, sub: collect(cl, CONSOLE_EVENTS) };
    });
    for (const { cl } of subs) await roundTrip(cl);
    await openAndCloseConsole(a!, 0);
    // A last event, born on B: whatever the three saw before it is all they will see of A's.
    await openAndCloseConsole(b!, 1);
    for (const { sub } of subs) await sub.until(4);
    const seen = subs.map(({ sub }) => eventsOf(sub.received));
    expect(seen[0]!.map((e) => `${e.type}.${e.action}`)).toEqual(['consoles.opened', 'consoles.closed', 'consoles.opened', 'consoles.closed']);
    expect(new Set(seen[0]!.map((e) => e.id)).size).toBe(4);
    for (const e of seen[0]!) expect(e.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });

  it('resumes a subscriber cut off on B, on C with after: exactly the events it missed, in order, then live ones', async () => {
    const [a, b, c] = await fleet(3);
    // A witness that never disconnects: the order every replica delivers in.
    const witnessClient = client(a!);
    const witness = collect(witnessClient, CONSOLE_EVENTS);
    await roundTrip(witnessClient);
    const first = client(b!);
    const cut = collect(first, CONSOLE_EVENTS);
    await roundTrip(first);
    await openAndCloseConsole(a!, 0);
    await cut.until(2);
    const last = eventsOf(cut.received).at(-1)!.id;
    await first.dispose();

    // Missed: four events born on A and B while the subscriber was away.
    await openAndCloseConsole(a!, 1);
    await openAndCloseConsole(b!, 2);
    await witness.until(6);
    // Resumed on another replica, while more events are being born on A (the seam).
    const resumedClient = client(c!);
    const resumed = collect(resumedClient, CONSOLE_EVENTS, { after: last });
    const during = openAndCloseConsole(a!, 0);
    await roundTrip(resumedClient);
    await during;
    await openAndCloseConsole(c!, 1);
    await witness.until(10);
    await resumed.until(8);
    const expected = eventsOf(witness.received).slice(2);
    expect(eventsOf(resumed.received)).toEqual(expected);
    expect(resumed.ended()).toBeNull();
  });

  it('delivers a DRP event only on the replicas that registered for it with DRP, once each (not forwarded through the fleet)', async () => {
    const drp = await startDrpSimulator();
    try {
      const [a, b] = await fleet(2, {}, [{ name: 'drp-lab', kind: 'drp', url: drp.url, username: 'rocketskates', password: 'r0cketsk8ts' }]);
      const query = 'subscription { events(filter: { sources: [DRP, GATEWAY] }) { id type action key } }';
      const registered = commandSeen(drp, 'register *.*.*');
      const onA = collect(client(a!), query);
      await registered;
      const registeredAgain = commandSeen(drp, 'register *.*.*');
      const onB = collect(client(b!), query);
      await registeredAgain;
      drp.emitObjectEvent({ type: 'machines', action: 'save', key: 'm-1', object: {} });
      drp.emitObjectEvent({ type: 'machines', action: 'save', key: 'm-2', object: {} });
      const machines = (received: any[]) => eventsOf(received).filter((e) => e.type === 'machines');
      const consoles = (received: any[]) => eventsOf(received).filter((e) => e.type === 'consoles');
      await eventually(() => machines(onA.received).length >= 2 && machines(onB.received).length >= 2, 'both replicas got the DRP events');
      // Each replica delivers its DRP events when it reads them back from the stream, so all four copies
      // are in it now; a console event born after that on A is behind them in the stream: once both
      // subscribers have it, a forwarded copy would have arrived before it.
      await openAndCloseConsole(a!, 0);
      await eventually(() => consoles(onA.received).length === 2 && consoles(onB.received).length === 2, 'both replicas got the console events');
      expect(machines(onA.received).map((e) => e.key)).toEqual(['m-1', 'm-2']);
      expect(machines(onB.received).map((e) => e.key)).toEqual(['m-1', 'm-2']);
      expect(machines(onA.received)[0]!.id).not.toBe(machines(onB.received)[0]!.id);
    } finally {
      await dispose();
      await drp.close();
    }
  });

  it('answers EVENTS_EXPIRED for an id the stream no longer holds, or a gap over events.replayMax; BAD_USER_INPUT for a malformed one', async () => {
    const [a] = await fleet(1, { replayMax: 2 });
    const cl = client(a!);
    const live = collect(cl, CONSOLE_EVENTS);
    await roundTrip(cl);
    await openAndCloseConsole(a!, 0);
    await openAndCloseConsole(a!, 1);
    await live.until(4);
    const ids = eventsOf(live.received).map((e) => e.id);

    const expired = collect(cl, CONSOLE_EVENTS, { after: ulid(Date.parse('2020-01-01T00:00:00Z')) });
    await expired.finished;
    expect(expired.received[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'EVENTS_EXPIRED', reason: 'retention' });

    const tooFar = collect(cl, CONSOLE_EVENTS, { after: ids[0] });
    await tooFar.finished;
    expect(tooFar.received[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'EVENTS_EXPIRED', reason: 'replayMax', limit: 2 });

    const withinReach = collect(cl, CONSOLE_EVENTS, { after: ids[1] });
    await withinReach.until(2);
    expect(eventsOf(withinReach.received).map((e) => e.id)).toEqual(ids.slice(2));

    const malformed = collect(cl, CONSOLE_EVENTS, { after: 'not-an-event-id' });
    await malformed.finished;
    expect(malformed.received[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const metrics = await (await fetch(`${a!.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/events_resumes_total\{outcome="EVENTS_EXPIRED"\} 2/);
    expect(a!.logs.text()).toContain('event resume refused');
  });
});
