/** Abiquo VMs as the gateway's VmRecord, and the VmFilter applied to them. */
import { BadUserInputError } from '../../errors.js';
import type { VmFilter, VmRecord, VmStatus } from '../types.js';
import type { AbiquoEnterprise, AbiquoVm } from './model.js';

const STATUS: Record<string, VmStatus> = {
  ON: 'RUNNING',
  OFF: 'STOPPED',
  PAUSED: 'SUSPENDED',
  NOT_ALLOCATED: 'NOT_DEPLOYED',
  ALLOCATED: 'NOT_DEPLOYED',
  CONFIGURED: 'NOT_DEPLOYED',
  LOCKED: 'LOCKED',
};

export function normaliseState(state: string): VmStatus {
  return STATUS[state] ?? 'UNKNOWN';
}

/** Upstream id of a VM: `<enterprise id>/<vm id>` (VM ids alone would do, but the pair says where to refresh). */
export function formatUpstreamId(enterpriseId: number, vmId: number): string {
  return `${enterpriseId}/${vmId}`;
}

export function parseUpstreamId(upstreamId: string): { enterpriseId: number; vmId: number } {
  const m = /^(\d{1,15})\/(\d{1,15})$/.exec(upstreamId);
  if (!m) throw new BadUserInputError('an Abiquo VM id looks like "<enterprise id>/<vm id>", e.g. "1/7"', { field: 'id' });
  return { enterpriseId: Number(m[1]), vmId: Number(m[2]) };
}

/**
 * `name` is the label when there is one: Abiquo's `name` is an internal `ABQ_<uuid>` that users never
 * see, while the label is what the Abiquo UI shows and what people search for. `label` keeps the label.
 */
export function toVmRecord(provider: string, enterprise: AbiquoEnterprise, vm: AbiquoVm): VmRecord {
  return {
    provider,
    providerKind: 'abiquo',
    upstreamId: formatUpstreamId(enterprise.id, vm.id),
    name: vm.label ?? vm.name,
    label: vm.label,
    status: normaliseState(vm.state),
    rawStatus: vm.state,
    cluster: null,
    host: null,
    enterprise: { id: String(enterprise.id), name: enterprise.name },
    vcpu: vm.cpu,
    memoryBytes: vm.ram === null ? null : vm.ram * 1_048_576,
  };
}

/** Abiquo has no clusters: a `cluster` filter matches nothing, as a field the record lacks cannot equal a value. */
export function matchesFilter(r: VmRecord, f: VmFilter | undefined): boolean {
  if (!f) return true;
  if (f.name != null && r.name !== f.name) return false;
  if (f.nameContains != null && !r.name.includes(f.nameContains)) return false;
  if (f.nameStartsWith != null && !r.name.startsWith(f.nameStartsWith)) return false;
  if (f.status != null && f.status.length > 0 && !f.status.includes(r.status)) return false;
  if (f.cluster != null && r.cluster?.name !== f.cluster && r.cluster?.id !== f.cluster) return false;
  return true;
}
