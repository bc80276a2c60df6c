/**
 * Named timers on an injected Clock, so a reconnect, a debounce or a deadline is one field with
 * set/clear instead of a handle juggled by hand. Real timers come from systemClock and are unref'd.
 */
import type { Clock, TimerHandle } from '../../clock.js';

/** At most one pending callback. */
export class TimerSlot {
  readonly #clock: Clock;
  #handle: TimerHandle | null = null;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get pending(): boolean {
    return this.#handle !== null;
  }

  /** Run `callback` after `ms`, replacing whatever was pending. */
  set(ms: number, callback: () => void): void {
    this.clear();
    this.#handle = this.#clock.setTimeout(() => {
      this.#handle = null;
      callback();
    }, ms);
  }

  /** Like set(), unless a callback is already pending (which then stands). */
  setIfIdle(ms: number, callback: () => void): void {
    if (this.#handle === null) this.set(ms, callback);
  }

  clear(): void {
    if (this.#handle !== null) this.#clock.clearTimeout(this.#handle);
    this.#handle = null;
  }
}

/** One debounce window per key: the first call for a key schedules the work, later ones join it. */
export class KeyedDebounce<K> {
  readonly #clock: Clock;
  readonly #ms: number;
  readonly #pending = new Map<K, TimerHandle>();

  constructor(clock: Clock, ms: number) {
    this.#clock = clock;
    this.#ms = ms;
  }

  schedule(key: K, callback: () => void): void {
    if (this.#pending.has(key)) return;
    this.#pending.set(
      key,
      this.#clock.setTimeout(() => {
        this.#pending.delete(key);
        callback();
      }, this.#ms),
    );
  }

  clear(): void {
    for (const handle of this.#pending.values()) this.#clock.clearTimeout(handle);
    this.#pending.clear();
  }
}
