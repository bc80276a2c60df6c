/**
 * Which replica of a fleet walks one Abiquo provider: the holder of its lease (src/fleet/lease.ts).
 * Every `renewIntervalMs` the leader renews and the others try to acquire, so a dead leader's lease
 * expires after `leaseTtlMs` and the next attempt takes over (at most TTL + one interval). The leader
 * steps down at once when a renewal says the lease is gone, when a fenced write is refused, or when
 * it could not renew for a whole TTL (Redis unreachable: a successor may already hold it).
 */
import type { Clock } from '../../clock.js';
import { RedisLease } from '../../fleet/lease.js';
import type { Logger } from '../../logger.js';
import { TimerSlot } from '../shared/timers.js';

export interface AbiquoLeadershipOptions {
  lease: RedisLease;
  leaseTtlMs: number;
  renewIntervalMs: number;
  clock: Clock;
  logger: Logger;
  /** This replica became the leader with this fencing token. */
  elected: (token: number) => void;
  /** This replica is no longer the leader: stop walking and writing now. */
  deposed: (reason: 'lost' | 'unreachable' | 'fenced') => void;
}

export class AbiquoLeadership {
  readonly #o: AbiquoLeadershipOptions;
  readonly #timer: TimerSlot;
  #token: number | null = null;
  #renewedAt = 0;
  #closed = false;
  #ticking: Promise<void> | null = null;

  constructor(options: AbiquoLeadershipOptions) {
    this.#o = options;
    this.#timer = new TimerSlot(options.clock);
  }

  /** The fencing token while this replica leads, else null. */
  get token(): number | null {
    return this.#token;
  }

  start(): void {
    this.#ticking = this.#tick();
  }

  /** A fenced write was refused with this token: step down now (a later token may lead again). */
  fenced(token: number): void {
    if (this.#token !== token) return;
    this.#depose('fenced');
  }

  /** Stop trying; a leader releases its lease so a successor need not wait for the TTL. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer.clear();
    await this.#ticking;
    const token = this.#token;
    this.#token = null;
    if (token !== null) await this.#o.lease.release(token);
  }

  async #tick(): Promise<void> {
    try {
      if (this.#token === null) await this.#tryAcquire();
      else await this.#renew(this.#token);
    } finally {
      if (!this.#closed) this.#timer.set(this.#o.renewIntervalMs, () => (this.#ticking = this.#tick()));
    }
  }

  async #tryAcquire(): Promise<void> {
    let token: number | null;
    try {
      token = await this.#o.lease.acquire();
    } catch {
      return; // Redis down: the fleet's connection logs it once; try again next interval.
    }
    if (token === null || this.#closed) {
      if (token !== null) await this.#o.lease.release(token);
      return;
    }
    this.#token = token;
    this.#renewedAt = this.#o.clock.now();
    this.#o.logger.info({ lease: this.#o.lease.key, token }, 'abiquo leader: lease acquired, walking this provider for the fleet');
    this.#o.elected(token);
  }

  async #renew(token: number): Promise<void> {
    const started = this.#o.clock.now();
    try {
      if (await this.#o.lease.renew(token)) {
        this.#renewedAt = started;
        return;
      }
      if (this.#token === token) this.#depose('lost');
    } catch {
      if (this.#token === token && this.#o.clock.now() - this.#renewedAt >= this.#o.leaseTtlMs) this.#depose('unreachable');
    }
  }

  #depose(reason: 'lost' | 'unreachable' | 'fenced'): void {
    const token = this.#token;
    this.#token = null;
    this.#o.logger.warn({ lease: this.#o.lease.key, token, reason }, 'abiquo leader: lease lost, stopping the walk, the stream and the token file');
    this.#o.deposed(reason);
  }
}
