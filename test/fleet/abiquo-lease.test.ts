/** The fleet lease against a real redis-server: one holder, renewal, release, and fencing of a stale holder's writes. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseLostError, RedisLease } from '../../src/fleet/lease.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

describe('the fleet lease', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url, { keyPrefix: 'lt:', lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  /** Resolves once the lease key is gone (expired); a bounded poll of Redis, not a sleep for the TTL. */
  async function expired(lease: RedisLease): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await lease.current()) === null) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the lease did not expire');
  }

  it('has one holder at a time; only the holder renews; the key carries the fleet prefix', async () => {
    const a = new RedisLease(redis, { key: 'one', holder: 'replica-a', ttlMs: 10_000 });
    const b = new RedisLease(redis, { key: 'one', holder: 'replica-b', ttlMs: 10_000 });
    const token = await a.acquire();
    expect(token).toBeGreaterThan(0);
    expect(await b.acquire()).toBeNull();
    expect(await a.renew(token!)).toBe(true);
    expect(await b.renew(token!)).toBe(false);
    expect(await a.current()).toEqual({ holder: 'replica-a', token });
    const raw = new Redis(server.url, { lazyConnect: true });
    await raw.connect();
    expect(await raw.get('lt:one')).toBe(`replica-a#${token}`);
    raw.disconnect();
    await a.release(token!);
    expect(await b.acquire()).toBe(token! + 1);
  });

  it("refuses a stale holder's fenced write after its lease expired and another took it", async () => {
    const a = new RedisLease(redis, { key: 'two', holder: 'replica-a', ttlMs: 200 });
    const b = new RedisLease(redis, { key: 'two', holder: 'replica-b', ttlMs: 10_000 });
    const first = (await a.acquire())!;
    await a.fencedSet(first, 'two:data', 'from-a');
    await expired(a);
    const second = (await b.acquire())!;
    expect(second).toBeGreaterThan(first);

    // A woke up believing it still leads: its renewal fails and its write is refused, atomically.
    expect(await a.renew(first)).toBe(false);
    const refused = await a.fencedSet(first, 'two:data', 'stale-from-a').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(LeaseLostError);
    expect((refused as LeaseLostError).code).toBe('LEASE_LOST');
    expect(await redis.get('two:data')).toBe('from-a');

    await b.fencedSet(second, 'two:data', 'from-b');
    expect(await redis.get('two:data')).toBe('from-b');
  });

  it('refuses a fenced write while nobody holds the lease', async () => {
    const a = new RedisLease(redis, { key: 'three', holder: 'replica-a', ttlMs: 200 });
    const token = (await a.acquire())!;
    await expired(a);
    await expect(a.fencedSet(token, 'three:data', 'x')).rejects.toBeInstanceOf(LeaseLostError);
    expect(await redis.exists('three:data')).toBe(0);
  });
});
