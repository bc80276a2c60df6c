/**
 * Upstream call timing, shared by the HTTP clients of every provider kind. A client wraps each
 * request in `timeUpstreamCall`; the result is published on a diagnostics channel, so the clients
 * need no reference to a metrics registry (and pay nothing when nobody listens).
 */
import { channel } from 'node:diagnostics_channel';

export type UpstreamCallOutcome = 'ok' | 'http_error' | 'transport_error';

export interface UpstreamCallRecord {
  /** Provider name (config `providers[].name`). */
  provider: string;
  /** A fixed, low-cardinality name of what was called, e.g. `POST /v2/api/get-vms` or `GET enterprises`. Never a URL with ids. */
  operation: string;
  /** Wall time of the request including its body, milliseconds. */
  durationMs: number;
  outcome: UpstreamCallOutcome;
  /** HTTP status when there was an answer. */
  status: number | null;
}

export const upstreamCallChannel = channel('console-gateway:upstream-call');

/**
 * Runs one upstream HTTP request and publishes its timing. `call` resolves with the answer's status
 * (an HTTP error status is an answer: outcome `http_error`) or throws on a transport failure.
 */
export async function timeUpstreamCall<T extends { status: number }>(provider: string, operation: string, call: () => Promise<T>): Promise<T> {
  if (!upstreamCallChannel.hasSubscribers) return call();
  const started = performance.now();
  try {
    const result = await call();
    publish({ provider, operation, durationMs: performance.now() - started, outcome: result.status >= 400 ? 'http_error' : 'ok', status: result.status });
    return result;
  } catch (err) {
    publish({ provider, operation, durationMs: performance.now() - started, outcome: 'transport_error', status: null });
    throw err;
  }
}

function publish(record: UpstreamCallRecord): void {
  upstreamCallChannel.publish(record);
}
