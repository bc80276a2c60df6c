/** The gateway's own events (source GATEWAY), published on the same bus as upstream events. */
import type { EventPublisher } from './types.js';

export function publishUpstreamChange(
  bus: EventPublisher,
  change: { provider: string; kind: string; connected: boolean; error: string | null; atMs: number },
): void {
  bus.publish({
    source: 'GATEWAY',
    provider: change.provider,
    time: new Date(change.atMs).toISOString(),
    type: 'upstreams',
    action: change.connected ? 'connected' : 'disconnected',
    key: change.provider,
    principal: null,
    object: { provider: change.provider, kind: change.kind, connected: change.connected, error: change.error },
    original: null,
  });
}

export function publishConsoleSession(
  bus: EventPublisher,
  session: { action: 'opened' | 'closed' | 'terminated'; provider: string; vmId: string; caller: string; detail?: Record<string, unknown> },
): void {
  bus.publish({
    source: 'GATEWAY',
    provider: session.provider,
    time: new Date().toISOString(),
    type: 'consoles',
    action: session.action,
    key: session.vmId,
    principal: session.caller,
    object: { vmId: session.vmId, caller: session.caller, ...session.detail },
    original: null,
  });
}
