/** Timers injected where tests control time (reconnect backoff, refresh debounce, resync interval). */

export type TimerHandle = unknown;

export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Real timers, unref'd: a pending reconnect or debounce must not keep the process alive on its own. */
export const realTimers: Timers = {
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
