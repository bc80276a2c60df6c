/**
 * The one fake `Clock` for tests: virtual time that moves only when the test says so, and timers
 * that fire only then. Two ways to move it, with one meaning ("time passes"):
 * - `advance(ms)` moves time forward, firing every timer that falls due on the way, in time order
 *   (including timers those callbacks set);
 * - `fire(timer)` jumps time to that timer's due time (never backwards) and fires it alone, for a
 *   test that picks out one timer (`await clock.nextTimer((t) => t.ms === 500)`).
 */
import type { Clock } from '../../src/clock.js';

export interface FakeTimer {
  readonly id: number;
  /** The delay it was set with. */
  readonly ms: number;
  /** When it falls due, in the clock's epoch milliseconds. */
  readonly at: number;
  readonly callback: () => void;
}

/** 2024-01-01T00:00:00Z: far from any real "now", so a test that mixes clocks shows it. */
export const FAKE_EPOCH = Date.UTC(2024, 0, 1);

export class FakeClock implements Clock {
  nowMs: number;
  #seq = 0;
  #pending: FakeTimer[] = [];
  #waiters: Array<{ pred: (t: FakeTimer) => boolean; resolve: (t: FakeTimer) => void }> = [];

  constructor(start = FAKE_EPOCH) {
    this.nowMs = start;
  }

  /** Bound, so it can be handed on alone (`{ now: clock.now }`). */
  readonly now = (): number => this.nowMs;

  setTimeout(callback: () => void, ms: number): number {
    const timer: FakeTimer = { id: ++this.#seq, ms, at: this.nowMs + Math.max(0, ms), callback };
    this.#pending.push(timer);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred(timer)) return true;
      w.resolve(timer);
      return false;
    });
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending = this.#pending.filter((t) => t.id !== handle);
  }

  /** Timers set and neither fired nor cleared, in the order they were set. */
  get pending(): readonly FakeTimer[] {
    return [...this.#pending];
  }

  get size(): number {
    return this.#pending.length;
  }

  /** The first pending timer matching `pred`, now or as soon as one is set. */
  nextTimer(pred: (t: FakeTimer) => boolean = () => true): Promise<FakeTimer> {
    const found = this.#pending.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }

  /** Moves time to `timer`'s due time (never backwards) and fires it. */
  fire(timer: FakeTimer): void {
    const i = this.#pending.indexOf(timer);
    if (i < 0) throw new Error('timer is not pending');
    this.#pending.splice(i, 1);
    this.nowMs = Math.max(this.nowMs, timer.at);
    timer.callback();
  }

  /** Moves time forward by `ms`, firing due timers in time order (including ones they set). */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#pending) if (t.at <= target && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.fire(next);
    }
    this.nowMs = target;
  }
}
