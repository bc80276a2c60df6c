/** The one way tests wait: on an observable event, never on a sleep or an event-loop turn. */
import type { EventEmitter } from 'node:events';

/** Resolves with the first `event` emission (its first argument) that satisfies `predicate`. */
export function waitFor<T = unknown>(emitter: EventEmitter, event: string, predicate: (arg: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (arg: T): void => {
      if (!predicate(arg)) return;
      emitter.off(event, listener);
      resolve(arg);
    };
    emitter.on(event, listener);
  });
}

/** Resolves once `condition()` holds: at once, or on the first `event` of `emitter` after which it does. */
export async function waitUntil(emitter: EventEmitter, event: string, condition: () => boolean): Promise<void> {
  if (condition()) return;
  await waitFor(emitter, event, () => condition());
}

/**
 * A generous window for a negative assertion ("no connection was made"): waits `ms` and rejects if
 * `event` fires on `emitter` meanwhile. Use it only where no event says "it will not happen now".
 * @default ms 300
 */
export function noEvent(emitter: EventEmitter, event: string, ms = 300): Promise<void> {
  return new Promise((resolve, reject) => {
    const listener = (): void => {
      clearTimeout(timer);
      reject(new Error(`unexpected '${event}' within ${ms} ms`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve();
    }, ms);
    emitter.once(event, listener);
  });
}
