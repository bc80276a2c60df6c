/**
 * One Abiquo provider's VM index as the fleet shares it: the leader (src/upstreams/abiquo/leadership.ts)
 * publishes it after every change of its cache, fenced by its lease token so a deposed leader writes
 * nothing; every other replica reads it through (one `HGET version` per request, the whole index only
 * when the version moved) and keeps the last one it read when Redis cannot answer.
 * Redis hash `abiquo:<provider>:index`: `version` (incremented per write), `meta` and `data` (JSON).
 * It carries the VMs' VNC passwords, as the consoles opened on any replica need them: the Redis of a
 * fleet is as trusted as the gateway's own memory.
 */
import type { Redis } from 'ioredis';
import type { AbiquoEnterprise, AbiquoVm } from '../upstreams/abiquo/model.js';
import type { RedisLease } from './lease.js';

/** The leader's freshness, visible on every replica. */
export interface AbiquoIndexMeta {
  /** Replica id of the leader that wrote it. */
  leader: string;
  /** Its fencing token. */
  token: number;
  /** When it was written (ISO 8601). */
  publishedAt: string;
  /** The leader's last full walk: when it ended, whether it succeeded, and its error code. */
  lastWalk: { ok: boolean; at: string | null; errorCode: string | null };
  /** The leader's event stream is connected (null when events are off). */
  streamConnected: boolean | null;
  lastEventAt: string | null;
}

export interface AbiquoIndexEntry {
  enterprise: AbiquoEnterprise;
  vms: AbiquoVm[];
  /** Why the leader's last read of this enterprise failed (its older VMs are still listed). */
  error: { code: string; message: string } | null;
}

export interface AbiquoIndexSnapshot {
  version: number;
  meta: AbiquoIndexMeta;
  entries: AbiquoIndexEntry[];
}

// After the fence (lease.ts): KEYS[2] index; ARGV[2] meta JSON, ARGV[3] data JSON.
const PUBLISH = `
local v = redis.call('HINCRBY', KEYS[2], 'version', 1)
redis.call('HSET', KEYS[2], 'meta', ARGV[2], 'data', ARGV[3])
return v`;

export function abiquoIndexKey(provider: string): string {
  return `abiquo:${provider}:index`;
}

export function abiquoLeaseKey(provider: string): string {
  return `abiquo:${provider}:lease`;
}

/** The leader's side: every write checks the fencing token atomically (LeaseLostError when stale). */
export async function publishAbiquoIndex(lease: RedisLease, token: number, provider: string, meta: AbiquoIndexMeta, entries: AbiquoIndexEntry[]): Promise<number> {
  return Number(await lease.fenced(token, PUBLISH, [abiquoIndexKey(provider)], [JSON.stringify(meta), JSON.stringify(entries)]));
}

/** The followers' side: read-through with the last snapshot kept. */
export class AbiquoIndexReader {
  readonly #redis: Redis;
  readonly #key: string;
  #last: AbiquoIndexSnapshot | null = null;

  constructor(redis: Redis, provider: string) {
    this.#redis = redis;
    this.#key = abiquoIndexKey(provider);
  }

  /** The snapshot read last (null before the first). */
  get last(): AbiquoIndexSnapshot | null {
    return this.#last;
  }

  /** The current snapshot, null when none is published; rejects when Redis cannot answer. */
  async read(): Promise<AbiquoIndexSnapshot | null> {
    const version = await this.#redis.hget(this.#key, 'version');
    if (version === null) return (this.#last = null);
    if (this.#last && String(this.#last.version) === version) return this.#last;
    const [v, meta, data] = await this.#redis.hmget(this.#key, 'version', 'meta', 'data');
    if (v == null || meta == null || data == null) return (this.#last = null);
    this.#last = { version: Number(v), meta: JSON.parse(meta) as AbiquoIndexMeta, entries: JSON.parse(data) as AbiquoIndexEntry[] };
    return this.#last;
  }
}
