import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerGateway } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { collect, roundTrip } from '../helpers/subscriptions.js';
import { CONSOLE_EVENTS, eventsOf, eventually, logCount, openAndCloseConsole, openConsole, towerGateway, useEventGateways } from './events-helpers.js';

const DOWN = "fleet events: Redis stream unavailable, this replica's events reach its own subscribers only";
const BACK = 'fleet events: delivering through the Redis stream again';

let redis: RedisServer;
const { gateway, client } = useEventGateways();
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

describe('fleet events while Redis is down', () => {
  it("keeps delivering each replica's own events to its own subscribers, refuses resumes with STORE_UNAVAILABLE, and delivers the whole fleet's again once Redis is back; each transition logged once", async () => {
    const [a, b] = await Promise.all([towerGateway(redis.url), towerGateway(redis.url)]);
    const [onA, onB] = [a!, b!].map((t) => {
      const c = client(gateway(t));
      return { c, sub: collect(c, CONSOLE_EVENTS) };
    });
    await roundTrip(onA!.c);
    await roundTrip(onB!.c);
    await openAndCloseConsole(a!, 0);
    await onB!.sub.until(2);
    // Consoles opened now, closed during the outage: their `closed` events are born while Redis is away.
    const closeOnA = await openConsole(a!, 1);
    const closeOnB = await openConsole(b!, 2);
    await onA!.sub.until(4);
    await onB!.sub.until(4);

    await redis.kill();
    await eventually(() => logCount(a!, DOWN) === 1 && logCount(b!, DOWN) === 1, 'both replicas noticed Redis is gone');
    const resumeWhileDown = collect(onB!.c, CONSOLE_EVENTS, { after: eventsOf(onB!.sub.received).at(-1)!.id });
    await resumeWhileDown.finished;
    expect(resumeWhileDown.received[0]?.errors?.[0]?.extensions?.code).toBe('STORE_UNAVAILABLE');
    await closeOnA();
    await onA!.sub.until(5);
    await closeOnB();
    await onB!.sub.until(5);
    const vm = (t: TowerGateway, i: number) => `tower:${t.sim.listVms()[i]!.id}`;
    // Each replica saw its own console close, not the other's (its outage events never left it).
    expect(eventsOf(onB!.sub.received).slice(4).map((e) => [e.action, e.key])).toEqual([['closed', vm(b!, 2)]]);
    expect(eventsOf(onA!.sub.received).slice(4).map((e) => [e.action, e.key])).toEqual([['closed', vm(a!, 1)]]);

    await redis.restart();
    await eventually(() => logCount(a!, BACK) === 1 && logCount(b!, BACK) === 1, 'both replicas are back on the stream');
    await openAndCloseConsole(a!, 0);
    await onB!.sub.until(7);
    await onA!.sub.until(7);
    expect(eventsOf(onB!.sub.received).slice(5)).toEqual(eventsOf(onA!.sub.received).slice(5));
    expect(eventsOf(onB!.sub.received).slice(5).map((e) => e.key)).toEqual([vm(a!, 0), vm(a!, 0)]);
    for (const t of [a!, b!]) {
      expect(logCount(t, DOWN)).toBe(1);
      expect(logCount(t, BACK)).toBe(1);
    }
  });

  it('does not deliver twice an event whose XADD timed out on a hung Redis (SIGSTOP) and was applied when it woke', async () => {
    const [a, b] = await Promise.all([0, 1].map(() => towerGateway(redis.url, {}, 'hung:', [], { commandTimeoutMs: 300 })));
    const [onA, onB] = [a!, b!].map((t) => {
      const c = client(gateway(t));
      return { c, sub: collect(c, CONSOLE_EVENTS) };
    });
    await roundTrip(onA!.c);
    await roundTrip(onB!.c);
    const closeFirst = await openConsole(a!, 1);
    await onA!.sub.until(1);
    redis.pause();
    try {
      // The XADD of `closed` waits on the stopped Redis until the command timeout, then A delivers it itself.
      await closeFirst();
      await onA!.sub.until(2);
      await eventually(() => logCount(a!, DOWN) === 1, 'A noticed the hung Redis');
    } finally {
      redis.resume();
    }
    await eventually(() => logCount(a!, BACK) === 1, 'A is back on the stream');
    await openAndCloseConsole(a!, 2);
    const vmKey = (i: number) => `tower:${a!.sim.listVms()[i]!.id}`;
    // Behind the late entries in the stream: once B has these, A would have had any copy too.
    await eventually(() => eventsOf(onB!.sub.received).some((e) => e.key === vmKey(2) && e.action === 'closed'), 'B got the last console');
    await onA!.sub.until(4);
    expect(eventsOf(onA!.sub.received).map((e) => [e.action, e.key])).toEqual([
      ['opened', vmKey(1)],
      ['closed', vmKey(1)],
      ['opened', vmKey(2)],
      ['closed', vmKey(2)],
    ]);
    expect(new Set(eventsOf(onA!.sub.received).map((e) => e.id)).size).toBe(4);
  });
});
