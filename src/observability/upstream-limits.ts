/**
 * Upstream peers that went past a bound (issue 10): a body over its cap, a request past its deadline,
 * an SSE line or event over its cap, a silent stream, a WebSocket message over its cap, a message
 * that is not an event. Published on a diagnostics channel, as upstream-calls.ts does, so upstream
 * clients need no metrics registry; GatewayMetrics counts them as `upstream_bounds_exceeded_total`.
 */
import { channel } from 'node:diagnostics_channel';

/** Low-cardinality names of the bounds; each names the config key that sets it in the README table. */
export type UpstreamBound =
  | 'response_bytes'
  | 'request_deadline'
  | 'sse_line_bytes'
  | 'sse_event_bytes'
  | 'stream_idle'
  | 'message_bytes'
  | 'malformed_message';

export interface UpstreamBoundRecord {
  /** Provider name (config `providers[].name`). */
  provider: string;
  bound: UpstreamBound;
}

export const upstreamBoundChannel = channel('console-gateway:upstream-bound');

export function reportUpstreamBound(provider: string, bound: UpstreamBound): void {
  if (upstreamBoundChannel.hasSubscribers) upstreamBoundChannel.publish({ provider, bound } satisfies UpstreamBoundRecord);
}
