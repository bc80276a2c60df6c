/**
 * Outbound API events as gateway events: source ABIQUO, type `virtualmachines` for VM events (else
 * the entity type, lower-cased), key `<provider>:<enterpriseId>/<vmId>` when the VM is known so that
 * a subscriber can match it against the `vms` ids, else the entity URI.
 */
import type { GatewayEventInput } from '../../events/types.js';
import type { AbiquoEvent } from './events.js';
import { formatUpstreamId } from './records.js';

/** True for events about a virtual machine (the ones that change the VM cache). */
export function isVmEvent(event: AbiquoEvent): boolean {
  return event.vmId !== null || event.entityType === 'VIRTUAL_MACHINE';
}

/**
 * @param enterpriseId the VM's enterprise: from the event, or looked up in the cache by the caller.
 * @param nowMs the time to stamp when the event carried none that parses.
 */
export function toGatewayEvent(provider: string, event: AbiquoEvent, enterpriseId: number | null, nowMs: number): GatewayEventInput {
  const key =
    enterpriseId !== null && event.vmId !== null
      ? `${provider}:${formatUpstreamId(enterpriseId, event.vmId)}`
      : (event.entityUri ?? event.enterpriseUri ?? '');
  const stamp = event.timestamp !== null && Number.isFinite(new Date(event.timestamp).getTime()) ? event.timestamp : nowMs;
  return {
    source: 'ABIQUO',
    provider,
    type: isVmEvent(event) ? 'virtualmachines' : (event.entityType ?? 'events').toLowerCase(),
    action: event.action,
    key,
    time: new Date(stamp).toISOString(),
    principal: event.userUri,
    object: event.raw,
    original: null,
  };
}
