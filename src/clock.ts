/**
 * Time, injected wherever a test must control it (reconnect backoff, debounces, deadlines, rate
 * limits). Production code never calls the global timers or Date.now directly in those places.
 */

export type TimerHandle = unknown;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock. Its timers are unref'd: a pending reconnect, debounce or deadline must never keep
 * the process alive on its own (shutdown closes what owns them).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
