/**
 * Tickets in the fleet's Redis, so a ticket minted through one replica opens a console on any
 * other. One key per ticket, named by the ticket's SHA-256 hash only (`ticket:<hash>`); Redis
 * itself expires it (`PX`), a while after the ticket's own expiry so a late redemption is
 * reported as expired or used rather than unknown.
 *
 * The value is a one-byte state ('0' fresh, '1' used) followed by the JSON record. Redemption is
 * one Lua script: read the value and, when consuming, overwrite the state byte in place
 * (`SETRANGE` keeps the TTL). Redis runs a script atomically, so of two replicas redeeming one
 * ticket at the same moment exactly one sees '0'; the key left behind is the tombstone.
 */
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../fleet/redis.js';
import type { StoredTicket, TicketRecord, TicketStore } from './ticket-store.js';

const TAKE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
if ARGV[1] == '1' and string.sub(v, 1, 1) == '0' then redis.call('SETRANGE', KEYS[1], 0, '1') end
return v
`;

interface TicketRedis extends Redis {
  cgTicketTake(key: string, consume: '0' | '1'): Promise<string | null>;
}

export interface RedisTicketStoreOptions {
  /** The fleet's connection (its key prefix applies). */
  redis: Redis;
  /** Clock, epoch ms: only to turn `expiresAtMs` into a TTL. @default Date.now */
  now?: () => number;
  /** How long a ticket's key outlives the ticket, milliseconds (see MemoryTicketStore). @default 60_000 */
  retainAfterExpiryMs?: number;
}

export class RedisTicketStore implements TicketStore {
  readonly #redis: TicketRedis;
  readonly #now: () => number;
  readonly #retainMs: number;

  constructor(options: RedisTicketStoreOptions) {
    const redis = options.redis as TicketRedis;
    if (typeof redis.cgTicketTake !== 'function') redis.defineCommand('cgTicketTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.#redis = redis;
    this.#now = options.now ?? Date.now;
    this.#retainMs = options.retainAfterExpiryMs ?? 60_000;
  }

  async put(hash: string, record: TicketRecord, expiresAtMs: number): Promise<void> {
    const ttlMs = Math.max(1, Math.ceil(expiresAtMs - this.#now() + this.#retainMs));
    const value = `0${JSON.stringify({ record, expiresAtMs })}`;
    await unavailableOnError(() => this.#redis.set(keyOf(hash), value, 'PX', ttlMs));
  }

  async take(hash: string, opts: { consume: boolean }): Promise<StoredTicket | null> {
    const value = await unavailableOnError(() => this.#redis.cgTicketTake(keyOf(hash), opts.consume ? '1' : '0'));
    if (value === null || value === undefined) return null;
    const parsed = JSON.parse(value.slice(1)) as { record: TicketRecord & { issuedAt: string; expiresAt: string }; expiresAtMs: number };
    return {
      record: { ...parsed.record, issuedAt: new Date(parsed.record.issuedAt), expiresAt: new Date(parsed.record.expiresAt) },
      expiresAtMs: parsed.expiresAtMs,
      used: value.startsWith('1'),
    };
  }

  /** The connection belongs to the fleet, which closes it. */
  async close(): Promise<void> {}
}

function keyOf(hash: string): string {
  return `ticket:${hash}`;
}

/** Any failure to get an answer from Redis (down, paused past the command timeout, restarting) is STORE_UNAVAILABLE. */
export async function unavailableOnError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    // A fixed reason: it reaches GraphQL clients, and a Redis error may name keys.
    throw new StoreUnavailableError('redis did not answer', { cause: err });
  }
}
