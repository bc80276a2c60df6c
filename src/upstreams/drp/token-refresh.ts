/**
 * Short-lived bearer tokens for a DRP user: one token request at a time, the token reused until it
 * expires, and refreshed at half-life so a reconnect after expiry finds a valid one. A failed refresh
 * is retried well before the current token runs out; the connect loop retries as well.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../../clock.js';
import { TimerSlot } from '../shared/timers.js';
import type { RequestBounds } from '../shared/bounded-request.js';
import { fetchDrpToken, type DrpToken } from './token.js';

export interface DrpTokenSourceOptions {
  /** Provider name, for errors. */
  name: string;
  /** http(s)://host:port of the DRP endpoint. */
  baseUrl: string;
  username: string;
  password: string;
  /** Lifetime asked for, seconds. */
  ttlSeconds: number;
  /** Carries the TLS settings and timeouts. */
  dispatcher: Dispatcher;
  /** Deadline and body cap of each token request. */
  bounds: RequestBounds;
  clock: Clock;
  /** A background refresh failed (the token in hand may still be good). */
  onRefreshError: (err: unknown) => void;
}

export class DrpTokenSource {
  readonly #opts: DrpTokenSourceOptions;
  readonly #refresh: TimerSlot;
  #token: DrpToken | null = null;
  #fetching: Promise<string> | null = null;
  #closed = false;

  constructor(opts: DrpTokenSourceOptions) {
    this.#opts = opts;
    this.#refresh = new TimerSlot(opts.clock);
  }

  /** A token that has not expired: the one in hand, or a fresh one. */
  bearer(): Promise<string> {
    const token = this.#token;
    if (token && this.#opts.clock.now() < token.expiresAtMs) return Promise.resolve(token.value);
    return this.#fetch();
  }

  /** DRP refused the token (expired, revoked, DRP restarted): fetch a fresh one next time. */
  invalidate(): void {
    this.#token = null;
  }

  close(): void {
    this.#closed = true;
    this.#refresh.clear();
  }

  #fetch(): Promise<string> {
    const { name, baseUrl, username, password, ttlSeconds, dispatcher, bounds, clock } = this.#opts;
    this.#fetching ??= fetchDrpToken({ provider: name, baseUrl, username, password, ttlSeconds, dispatcher, bounds, now: () => clock.now() })
      .then((token) => {
        this.#token = token;
        this.#scheduleRefresh((token.expiresAtMs - token.issuedAtMs) / 2);
        return token.value;
      })
      .catch((err: unknown) => {
        // Retry well before the current token (if any) runs out.
        if (this.#token) this.#scheduleRefresh(Math.max(1000, (this.#token.expiresAtMs - clock.now()) / 4));
        throw err;
      })
      .finally(() => {
        this.#fetching = null;
      });
    return this.#fetching;
  }

  #scheduleRefresh(ms: number): void {
    if (this.#closed) return;
    this.#refresh.set(ms, () => {
      this.#fetch().catch((err: unknown) => this.#opts.onRefreshError(err));
    });
  }
}
