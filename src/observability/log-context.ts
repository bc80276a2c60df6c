/**
 * The request a log line is about. An HTTP request (or WebSocket upgrade) runs inside
 * `runWithRequestId`, and the logger's mixin adds `reqId` to every line written while it runs —
 * including lines from code that never sees the request (resolvers, upstream clients, the error
 * formatter), because AsyncLocalStorage follows the async work the request starts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

interface LogContext {
  reqId: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function runWithRequestId<T>(reqId: string, fn: () => T): T {
  return storage.run({ reqId }, fn);
}

/** The id of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.reqId;
}
