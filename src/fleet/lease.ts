/**
 * A Redis lease with a fencing token: one holder at a time for a job the fleet must run once (the
 * Abiquo walk). Acquire is, in one script (so as atomic as `SET key value NX PX ttl`), the lease set
 * only when absent and the `INCR` of a counter whose value is the holder's fencing token; the lease's value names the holder and its token, so renewal
 * (compare-and-pexpire) and every fenced write (compare-then-write, in one Lua script) succeed only
 * while that exact lease is current. A holder paused past its TTL therefore cannot write over its
 * successor: its token is no longer the lease's, whatever its own clock believes.
 * (Kleppmann, "How to do distributed locking", 2016: the token, not the timeout, makes writes safe.)
 */
import type { Redis } from 'ioredis';
import { ErrorCode, GatewayError } from '../errors.js';

/** A fenced write was refused: the writer's lease expired or another holder took it. Never reaches clients. */
export class LeaseLostError extends GatewayError {
  constructor(key: string, token: number) {
    super(ErrorCode.LeaseLost, `the lease "${key}" is no longer held with fencing token ${token}`, { token });
  }
}

// KEYS[1] lease, KEYS[2] fencing counter; ARGV[1] holder id, ARGV[2] ttl ms.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '#' .. token, 'PX', ARGV[2])
return token`;

// KEYS[1] lease; ARGV[1] the holder's lease value, ARGV[2] ttl ms.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// KEYS[1] lease; ARGV[1] the holder's lease value.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The check every fenced script starts with: KEYS[1] is the lease, ARGV[1] the holder's lease value. */
const FENCE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '__fenced__' end\n`;

export interface LeaseOptions {
  /** Key of the lease (ioredis adds the fleet's keyPrefix); the fencing counter is `<key>:fence`. */
  key: string;
  /** This replica's id (Fleet.replicaId). */
  holder: string;
  /** Milliseconds a lease lives without renewal. */
  ttlMs: number;
}

export class RedisLease {
  readonly key: string;
  readonly #redis: Redis;
  readonly #holder: string;
  readonly #ttlMs: number;

  constructor(redis: Redis, options: LeaseOptions) {
    this.#redis = redis;
    this.key = options.key;
    this.#holder = options.holder;
    this.#ttlMs = options.ttlMs;
  }

  /** The lease's value while `token` holds it. */
  #value(token: number): string {
    return `${this.#holder}#${token}`;
  }

  /** The fencing token when the lease was free and is now ours, null when somebody holds it. Rejects when Redis cannot answer. */
  async acquire(): Promise<number | null> {
    const token = Number(await this.#redis.eval(ACQUIRE, 2, this.key, `${this.key}:fence`, this.#holder, this.#ttlMs));
    return token > 0 ? token : null;
  }

  /** Extend our lease by the TTL; false when it is no longer ours (expired, or taken over). */
  async renew(token: number): Promise<boolean> {
    return Number(await this.#redis.eval(RENEW, 1, this.key, this.#value(token), this.#ttlMs)) === 1;
  }

  /** Give the lease up now, so a successor need not wait for the TTL. Never rejects. */
  async release(token: number): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.key, this.#value(token)).catch(() => undefined);
  }

  /** Who holds the lease now (`<holder>#<token>`), or null. */
  async current(): Promise<{ holder: string; token: number } | null> {
    const value = await this.#redis.get(this.key);
    if (value === null) return null;
    const at = value.lastIndexOf('#');
    return { holder: value.slice(0, at), token: Number(value.slice(at + 1)) };
  }

  /**
   * Runs `body` (Lua) atomically only while `token` still holds the lease; otherwise rejects with
   * LeaseLostError and writes nothing. In `body`, KEYS[1] is the lease and ARGV[1] its value: the
   * caller's keys start at KEYS[2] and its arguments at ARGV[2].
   */
  async fenced(token: number, body: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    const result = await this.#redis.eval(FENCE + body, 1 + keys.length, this.key, ...keys, this.#value(token), ...args);
    if (result === '__fenced__') throw new LeaseLostError(this.key, token);
    return result;
  }

  /** `SET key value` while `token` holds the lease (LeaseLostError otherwise). */
  async fencedSet(token: number, key: string, value: string): Promise<void> {
    await this.fenced(token, `return redis.call('SET', KEYS[2], ARGV[2])`, [key], [value]);
  }
}
