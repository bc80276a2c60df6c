/**
 * The simulated CloudTower VM model: the fields `POST /v2/api/get-vms` returns, as named in the
 * cloudtower-node-sdk data contracts (snake_case, `memory` in bytes, `ips` one comma-separated string).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { EntitySchema } from './where.js';

export const CLOUDTOWER_VM_STATUSES = ['RUNNING', 'STOPPED', 'SUSPENDED', 'DELETED', 'UNKNOWN'] as const;
export type CloudTowerVmStatus = (typeof CLOUDTOWER_VM_STATUSES)[number];

export const CLOUDTOWER_GUEST_OS_TYPES = ['LINUX', 'WINDOWS', 'UNKNOWN'] as const;
export type CloudTowerGuestOsType = (typeof CLOUDTOWER_GUEST_OS_TYPES)[number];

/** A VM exactly as the REST API serialises it. */
export interface CloudTowerVm {
  /** CloudTower's own id (a cuid, e.g. `clny8ylbd19q0958o3avqavm`). */
  id: string;
  /** The hypervisor's uuid; the VNC answer calls it `vm_uuid`. */
  local_id: string;
  name: string;
  status: CloudTowerVmStatus;
  description: string;
  cluster: { id: string; name: string };
  host: { id: string; name: string; management_ip: string };
  vcpu: number;
  cpu: { cores: number; sockets: number };
  /** Bytes. */
  memory: number;
  /** Guest IPs reported by the VM tools, comma-separated ('' when unknown). */
  ips: string;
  /** Data IP of the host the VM runs on. */
  node_ip: string;
  guest_os_type: CloudTowerGuestOsType;
  in_recycle_bin: boolean;
  labels: { id: string }[];
}

/**
 * Fixed VNC answer for one VM, so a test can replay a known exchange byte for byte (e.g. the worked
 * example of seed 000). Unset fields get fresh random credentials / the simulator's defaults.
 */
export interface PinnedVncAnswer {
  raw_token?: string;
  token?: string;
  cluster_ip?: string;
  host_ip?: string;
}

/** A VM as the simulator stores it: the API object plus simulator-only settings. */
export interface SimulatedVm extends CloudTowerVm {
  vnc?: PinnedVncAnswer;
}

/** What a VM `where` may mention: the scalar fields above plus the `cluster` and `host` relations. */
export const VM_WHERE_SCHEMA: EntitySchema = {
  scalars: {
    id: { kind: 'string' },
    local_id: { kind: 'string' },
    name: { kind: 'string' },
    status: { kind: 'enum', values: CLOUDTOWER_VM_STATUSES },
    description: { kind: 'string' },
    vcpu: { kind: 'number' },
    memory: { kind: 'number' },
    ips: { kind: 'string' },
    node_ip: { kind: 'string' },
    guest_os_type: { kind: 'enum', values: CLOUDTOWER_GUEST_OS_TYPES },
    in_recycle_bin: { kind: 'boolean' },
  },
  relations: {
    cluster: { scalars: { id: { kind: 'string' }, name: { kind: 'string' } }, relations: {} },
    host: {
      scalars: { id: { kind: 'string' }, name: { kind: 'string' }, management_ip: { kind: 'string' } },
      relations: {},
    },
  },
};

const GiB = 1024 ** 3;

/** A cuid-looking id: 'c' + 24 lowercase base36 characters, as CloudTower's ids look. */
export function cuidLike(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(24);
  let id = 'c';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

/** Fill the fields a test did not care about; `id` and `local_id` are fresh when not given. */
export function makeSimulatedVm(partial: Partial<SimulatedVm> & { name: string }): SimulatedVm {
  return {
    id: cuidLike(),
    local_id: randomUUID(),
    status: 'RUNNING',
    description: '',
    cluster: { id: 'cl-sim-default', name: 'sim-cluster' },
    host: { id: 'host-sim-default', name: 'sim-host', management_ip: '127.0.0.1' },
    vcpu: 1,
    cpu: { cores: 1, sockets: 1 },
    memory: GiB,
    ips: '',
    node_ip: '127.0.0.1',
    guest_os_type: 'LINUX',
    in_recycle_bin: false,
    labels: [],
    ...partial,
  };
}

/** The API view: drops simulator-only settings and shares no mutable state with the store. */
export function toApiVm(vm: SimulatedVm): CloudTowerVm {
  return {
    id: vm.id,
    local_id: vm.local_id,
    name: vm.name,
    status: vm.status,
    description: vm.description,
    cluster: { ...vm.cluster },
    host: { ...vm.host },
    vcpu: vm.vcpu,
    cpu: { ...vm.cpu },
    memory: vm.memory,
    ips: vm.ips,
    node_ip: vm.node_ip,
    guest_os_type: vm.guest_os_type,
    in_recycle_bin: vm.in_recycle_bin,
    labels: vm.labels.map((label) => ({ ...label })),
  };
}

const CLUSTER_A = { id: 'clsim0cluster0a0000000001', name: 'cluster-a' };
const CLUSTER_B = { id: 'clsim0cluster0b0000000002', name: 'cluster-b' };
// Management/data IPs are loopback addresses so nothing built from them can leave the machine;
// guest IPs use the TEST-NET-2 documentation range (never routed) and are display-only.
const HOST_A1 = { id: 'clsim0host0a1000000000001', name: 'node-a1', management_ip: '127.0.0.11' };
const HOST_A2 = { id: 'clsim0host0a2000000000002', name: 'node-a2', management_ip: '127.0.0.12' };
const HOST_B1 = { id: 'clsim0host0b1000000000003', name: 'node-b1', management_ip: '127.0.0.21' };

/**
 * Six VMs across two clusters and three hosts, with varied status, size, OS and recycle-bin state.
 * Ids are fixed so tests can assert exact results. Each call returns fresh objects.
 */
export function defaultCloudTowerVms(): SimulatedVm[] {
  return [
    makeSimulatedVm({
      id: 'clsim0vm000web01000000001',
      local_id: '6a1f2c3e-0001-4a5b-8c9d-000000000001',
      name: 'web-01',
      status: 'RUNNING',
      description: 'frontend web server',
      cluster: CLUSTER_A,
      host: HOST_A1,
      vcpu: 2,
      cpu: { cores: 2, sockets: 1 },
      memory: 4 * GiB,
      ips: '198.51.100.11',
      node_ip: HOST_A1.management_ip,
      guest_os_type: 'LINUX',
      labels: [{ id: 'clsim0label0web0000000001' }],
    }),
    makeSimulatedVm({
      id: 'clsim0vm000web02000000002',
      local_id: '6a1f2c3e-0002-4a5b-8c9d-000000000002',
      name: 'web-02',
      status: 'RUNNING',
      description: 'frontend web server',
      cluster: CLUSTER_A,
      host: HOST_A2,
      vcpu: 2,
      cpu: { cores: 2, sockets: 1 },
      memory: 4 * GiB,
      ips: '198.51.100.12',
      node_ip: HOST_A2.management_ip,
      guest_os_type: 'LINUX',
      labels: [{ id: 'clsim0label0web0000000001' }],
    }),
    makeSimulatedVm({
      id: 'clsim0vm000db001000000003',
      local_id: '6a1f2c3e-0003-4a5b-8c9d-000000000003',
      name: 'db-primary',
      status: 'RUNNING',
      description: 'PostgreSQL primary',
      cluster: CLUSTER_A,
      host: HOST_A1,
      vcpu: 8,
      cpu: { cores: 4, sockets: 2 },
      memory: 32 * GiB,
      ips: '198.51.100.21,198.51.100.22',
      node_ip: HOST_A1.management_ip,
      guest_os_type: 'LINUX',
    }),
    makeSimulatedVm({
      id: 'clsim0vm000win01000000004',
      local_id: '6a1f2c3e-0004-4a5b-8c9d-000000000004',
      name: 'win-build',
      status: 'STOPPED',
      description: 'Windows build agent',
      cluster: CLUSTER_B,
      host: HOST_B1,
      vcpu: 4,
      cpu: { cores: 4, sockets: 1 },
      memory: 8 * GiB,
      ips: '',
      node_ip: HOST_B1.management_ip,
      guest_os_type: 'WINDOWS',
    }),
    makeSimulatedVm({
      id: 'clsim0vm000test1000000005',
      local_id: '6a1f2c3e-0005-4a5b-8c9d-000000000005',
      name: 'test-suspended',
      status: 'SUSPENDED',
      description: '',
      cluster: CLUSTER_B,
      host: HOST_B1,
      vcpu: 1,
      cpu: { cores: 1, sockets: 1 },
      memory: 2 * GiB,
      ips: '198.51.100.51',
      node_ip: HOST_B1.management_ip,
      guest_os_type: 'LINUX',
    }),
    makeSimulatedVm({
      id: 'clsim0vm000old01000000006',
      local_id: '6a1f2c3e-0006-4a5b-8c9d-000000000006',
      name: 'old-archive',
      status: 'STOPPED',
      description: 'decommissioned, in the recycle bin',
      cluster: CLUSTER_B,
      host: HOST_B1,
      vcpu: 1,
      cpu: { cores: 1, sockets: 1 },
      memory: 1 * GiB,
      ips: '',
      node_ip: HOST_B1.management_ip,
      guest_os_type: 'UNKNOWN',
      in_recycle_bin: true,
    }),
  ];
}
