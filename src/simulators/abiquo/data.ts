/** The simulator's data set: enterprises and their VMs, plus generators for demos and benchmarks. */
import type { VmState } from './wire.js';

export interface AbiquoSimVm {
  id: number;
  /** Internal name, `ABQ_<uuid>` in real installs. */
  name: string;
  /** Display name; null to leave it out of the body. */
  label: string | null;
  uuid: string;
  state: VmState | string;
  cpu: number;
  /** Megabytes. */
  ram: number;
  /** null leaves the field out (a VM that never got a remote desktop address). */
  vdrpIP: string | null;
  /** A string lets tests serve a malformed port. */
  vdrpPort: number | string | null;
  vdrpEnabled: boolean;
  /** VNC password; null when the console has none. */
  password: string | null;
  /** Virtual datacenter and virtual appliance the VM lives in (they make up its cloud URI). */
  vdcId: number;
  vappId: number;
}

export interface AbiquoSimEnterprise {
  id: number;
  name: string;
  vms: AbiquoSimVm[];
}

/**
 * States in which the hypervisor runs the VM's process, and with it the VNC server behind
 * vdrpIP:vdrpPort. PAUSED pauses the guest, not the process: its display stays (a frozen screen).
 * LOCKED (an operation under way) and UNKNOWN say what Abiquo knows, not what the hypervisor does;
 * the VM is taken to keep running (*unverified*). NOT_ALLOCATED, ALLOCATED and CONFIGURED VMs were
 * never started on a hypervisor, OFF ones were stopped: nothing listens for them.
 */
const STATES_WITH_A_PROCESS: ReadonlySet<string> = new Set(['ON', 'PAUSED', 'LOCKED', 'UNKNOWN']);

/**
 * Whether a VNC server listens at the VM's remote desktop address: it has one, it is enabled (a
 * disabled remote desktop means the hypervisor was told to open none) and the VM's process runs.
 */
export function vncListening(vm: AbiquoSimVm): boolean {
  return vm.vdrpIP !== null && vm.vdrpEnabled && STATES_WITH_A_PROCESS.has(vm.state);
}

function uuidFor(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `6d7e8f90-0000-4000-8000-${hex}`;
}

/** A VM with plausible defaults; `over` replaces any field. */
export function simVm(id: number, over: Partial<AbiquoSimVm> = {}): AbiquoSimVm {
  const uuid = over.uuid ?? uuidFor(id);
  return {
    id,
    name: `ABQ_${uuid}`,
    label: `vm-${id}`,
    uuid,
    state: 'ON',
    cpu: 1,
    ram: 1024,
    vdrpIP: '127.0.0.1',
    vdrpPort: 5900 + id,
    vdrpEnabled: true,
    password: null,
    vdcId: 1,
    vappId: 1,
    ...over,
  };
}

/**
 * Three enterprises, eight VMs: some with a VNC password, one with the remote desktop disabled,
 * one never deployed (no vdrp address), a mix of states.
 */
export function defaultAbiquoData(): AbiquoSimEnterprise[] {
  return [
    {
      id: 1,
      name: 'Abiquo',
      vms: [
        simVm(1, { label: 'web-1', password: 'vncpass1', cpu: 2, ram: 2048 }),
        simVm(2, { label: 'web-2', password: 'vncpass2', cpu: 2, ram: 2048 }),
        simVm(3, { label: 'db-1', state: 'OFF', ram: 4096, vdcId: 1, vappId: 2 }),
      ],
    },
    {
      id: 2,
      name: 'Acme',
      vms: [
        simVm(4, { label: 'acme-app', password: 'acme-vnc', vdcId: 2, vappId: 3 }),
        simVm(5, { label: 'acme-batch', state: 'PAUSED', vdcId: 2, vappId: 3 }),
        simVm(6, { label: 'acme-novnc', vdrpEnabled: false, vdcId: 2, vappId: 3 }),
        simVm(7, { label: 'acme-new', state: 'NOT_ALLOCATED', vdrpIP: null, vdrpPort: null, vdcId: 2, vappId: 4 }),
      ],
    },
    {
      id: 3,
      name: 'Globex',
      vms: [simVm(8, { label: 'globex-1', state: 'LOCKED', password: 'globex', vdcId: 3, vappId: 5 })],
    },
  ];
}

/** `enterprises` x `vmsPerEnterprise` running VMs with unique ids and ports (benchmarks, paging tests). */
export function generateAbiquoData(enterprises: number, vmsPerEnterprise: number): AbiquoSimEnterprise[] {
  const out: AbiquoSimEnterprise[] = [];
  let vmId = 0;
  for (let e = 1; e <= enterprises; e++) {
    const vms: AbiquoSimVm[] = [];
    for (let v = 0; v < vmsPerEnterprise; v++) {
      vmId++;
      // Ports wrap inside 5900-65535 so large sets stay valid.
      vms.push(simVm(vmId, { label: `e${e}-vm${v + 1}`, vdrpPort: 5900 + (vmId % 59_000), vdcId: e, vappId: e }));
    }
    out.push({ id: e, name: `enterprise-${e}`, vms });
  }
  return out;
}
