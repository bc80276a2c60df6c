/**
 * Console and graphql-ws caps counted across a fleet. Each replica keeps its own share in a hash
 * (`caps:<name>:r:<replicaId>`: `*` its total, `c:<caller>` per caller) with a TTL, and is listed
 * in a sorted set scored by that share's expiry. A Lua script sums the live shares and takes a
 * slot in one atomic step, so two replicas cannot both take the last one. Every third of
 * `redis.leaseTtlMs` a replica rewrites its share from its own counts and renews it: a replica
 * that dies stops renewing, and its share expires instead of leaking; a Redis that lost its data
 * gets every share back at the next renewal.
 *
 * When Redis does not answer, a slot is still given within this replica's own counts (the caps
 * bound load; refusing every console and connection because Redis is down would be worse), and
 * that is logged once per transition.
 */
import type { Redis } from 'ioredis';
import type { CapRefusal, CapSlot, Caps, ConcurrencyLimits } from '../auth/concurrency-caps.js';
import type { Logger } from '../logger.js';
import type { Fleet } from './redis.js';

// KEYS: replicas zset, own share. ARGV: share key prefix (with the fleet's key prefix), replica id,
// ttl ms, global cap ('' none), per-caller cap, caller field ('' none).
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local total, mine = 0, 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. m
  total = total + tonumber(redis.call('HGET', k, '*') or '0')
  if ARGV[6] ~= '' then mine = mine + tonumber(redis.call('HGET', k, ARGV[6]) or '0') end
end
if ARGV[4] ~= '' and total >= tonumber(ARGV[4]) then return {1, total} end
if ARGV[6] ~= '' and mine >= tonumber(ARGV[5]) then return {2, total} end
redis.call('HINCRBY', KEYS[2], '*', 1)
if ARGV[6] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[6], 1) end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
return {0, total + 1}
`;

// KEYS: replicas zset, own share. ARGV: share key prefix, replica id, ttl ms, then field/value pairs.
// Rewrites this replica's share from its own counts, renews it, and answers the fleet's total.
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('DEL', KEYS[2])
if #ARGV > 3 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 4))
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
else
  redis.call('ZREM', KEYS[1], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local total = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  total = total + tonumber(redis.call('HGET', ARGV[1] .. m, '*') or '0')
end
return total
`;

interface CapsRedis extends Redis {
  cgCapsAcquire(zset: string, share: string, ...args: string[]): Promise<[number, number]>;
  cgCapsRenew(zset: string, share: string, ...args: string[]): Promise<number>;
}

export interface FleetCapsOptions {
  fleet: Fleet;
  /** `consoles` or `ws`: the name of this cap in Redis. */
  name: string;
  /** Read at every acquire, so a reload applies to the next one. */
  limits: () => ConcurrencyLimits;
  logger: Logger;
}

export class FleetCaps implements Caps {
  readonly #fleet: Fleet;
  readonly #redis: CapsRedis;
  readonly #limits: () => ConcurrencyLimits;
  readonly #logger: Logger;
  readonly #zset: string;
  readonly #share: string;
  readonly #sharePrefix: string;
  /** This replica's own counts: the truth its share in Redis is rewritten from. */
  readonly #byCaller = new Map<string, number>();
  #total = 0;
  /** The fleet's total as last seen (for the early `globalFull` check). */
  #fleetTotal = 0;
  #degraded = false;
  readonly #timer: NodeJS.Timeout;

  constructor(options: FleetCapsOptions) {
    this.#fleet = options.fleet;
    const redis = options.fleet.redis as CapsRedis;
    if (typeof redis.cgCapsAcquire !== 'function') {
      redis.defineCommand('cgCapsAcquire', { numberOfKeys: 2, lua: ACQUIRE });
      redis.defineCommand('cgCapsRenew', { numberOfKeys: 2, lua: RENEW });
    }
    this.#redis = redis;
    this.#limits = options.limits;
    this.#logger = options.logger.child({ component: 'fleet-caps', cap: options.name });
    this.#zset = `caps:${options.name}:replicas`;
    this.#share = `caps:${options.name}:r:${options.fleet.replicaId}`;
    this.#sharePrefix = `${options.fleet.keyPrefix}caps:${options.name}:r:`;
    this.#timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(options.fleet.leaseTtlMs / 3)));
    this.#timer.unref();
  }

  /** This replica's own count. */
  get total(): number {
    return this.#total;
  }

  globalFull(): boolean {
    return Math.max(this.#fleetTotal, this.#total) >= this.#limits().global;
  }

  async tryAcquire(caller: string | null): Promise<CapSlot | CapRefusal> {
    const limits = this.#limits();
    const field = caller === null ? '' : `c:${caller}`;
    let answer: [number, number] | null = null;
    try {
      answer = await this.#redis.cgCapsAcquire(this.#zset, this.#share, this.#sharePrefix, this.#fleet.replicaId, String(this.#fleet.leaseTtlMs), Number.isFinite(limits.global) ? String(limits.global) : '', String(limits.perCaller), field);
      this.#markDegraded(false);
    } catch (err) {
      this.#markDegraded(true, err);
    }
    if (answer) {
      this.#fleetTotal = Number(answer[1]);
      if (answer[0] === 1) return 'GLOBAL';
      if (answer[0] === 2) return 'PER_CALLER';
    } else {
      // Redis silent: this replica's own counts only.
      if (this.#total >= limits.global) return 'GLOBAL';
      if (caller !== null && (this.#byCaller.get(caller) ?? 0) >= limits.perCaller) return 'PER_CALLER';
    }
    this.#total++;
    if (caller !== null) this.#byCaller.set(caller, (this.#byCaller.get(caller) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        this.#fleetTotal = Math.max(0, this.#fleetTotal - 1);
        if (caller !== null) {
          const left = (this.#byCaller.get(caller) ?? 1) - 1;
          if (left > 0) this.#byCaller.set(caller, left);
          else this.#byCaller.delete(caller);
        }
        // Given back at once; should it fail, the next renewal rewrites the share anyway.
        void this.renew();
      },
    };
  }

  /** Rewrite this replica's share from its own counts and renew its lease. */
  async renew(): Promise<void> {
    const pairs: string[] = [];
    if (this.#total > 0) {
      pairs.push('*', String(this.#total));
      for (const [caller, n] of this.#byCaller) pairs.push(`c:${caller}`, String(n));
    }
    try {
      this.#fleetTotal = Number(await this.#redis.cgCapsRenew(this.#zset, this.#share, this.#sharePrefix, this.#fleet.replicaId, String(this.#fleet.leaseTtlMs), ...pairs));
      this.#markDegraded(false);
    } catch (err) {
      this.#markDegraded(true, err);
    }
  }

  #markDegraded(degraded: boolean, err?: unknown): void {
    if (degraded === this.#degraded) return;
    this.#degraded = degraded;
    if (degraded) this.#logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'fleet-wide caps unavailable (redis): counting this replica only');
    else this.#logger.info('fleet-wide caps counted in redis again');
  }

  /** Stop renewing and give this replica's share back. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#total = 0;
    this.#byCaller.clear();
    await this.renew();
  }
}
