/**
 * A small, plausible DRP inventory for the simulator's demo events: machines move through stages,
 * the global profile gets params set and removed, params are created and deleted.
 * Object shapes follow DRP's models (Machine: Uuid, Name, Address, Stage, BootEnv, Runnable...).
 */
import { randomUUID } from 'node:crypto';

export type DrpObjectAction = 'create' | 'update' | 'save' | 'delete';

export interface DrpObjectChange {
  type: string;
  action: DrpObjectAction;
  key: string;
  object: unknown;
  /** The object before an update/save; null for create/delete. */
  original: unknown;
}

interface Machine {
  Uuid: string;
  Name: string;
  Address: string;
  Stage: string;
  BootEnv: string;
  Workflow: string;
  Runnable: boolean;
  Profiles: string[];
  Params: Record<string, unknown>;
  Meta: Record<string, string>;
  Validated: boolean;
  Available: boolean;
  Errors: string[];
  ReadOnly: boolean;
}

/** The stages a demo machine walks through, with the boot environment each one uses. */
const STAGES: ReadonlyArray<{ stage: string; bootEnv: string }> = [
  { stage: 'discover', bootEnv: 'sledgehammer' },
  { stage: 'centos-8-install', bootEnv: 'centos-8-install' },
  { stage: 'complete', bootEnv: 'local' },
];

const MAX_MACHINES = 4;

export class DemoInventory {
  private step = 0;
  private serial = 0;
  private readonly machines = new Map<string, Machine>();
  private globalProfile = {
    Name: 'global',
    Description: 'Global profile attached automatically to all machines.',
    Params: { 'kernel-console': 'console=ttyS1,115200' } as Record<string, unknown>,
    Meta: { color: 'blue', icon: 'world', title: 'Digital Rebar Provision' },
    Validated: true,
    Available: true,
    Errors: [] as string[],
    ReadOnly: false,
  };
  private lastParam: string | null = null;

  /** The next change in a fixed cycle (deterministic apart from machine uuids). */
  next(): DrpObjectChange {
    const step = this.step++ % 6;
    switch (step) {
      case 0:
        return this.createMachine();
      case 1:
      case 4:
        return this.advanceMachine(step === 1 ? 'update' : 'save');
      case 2:
        return this.saveGlobalProfile();
      case 3:
        return this.createParam();
      default:
        return this.machines.size > MAX_MACHINES - 1 ? this.deleteOldestMachine() : this.deleteParam();
    }
  }

  private createMachine(): DrpObjectChange {
    const n = ++this.serial;
    const first = STAGES[0]!;
    const machine: Machine = {
      Uuid: randomUUID(),
      Name: `demo-${n}.example.local`,
      Address: `10.0.0.${10 + (n % 240)}`,
      Stage: first.stage,
      BootEnv: first.bootEnv,
      Workflow: 'discover-base',
      Runnable: true,
      Profiles: ['global'],
      Params: {},
      Meta: { icon: 'server' },
      Validated: true,
      Available: true,
      Errors: [],
      ReadOnly: false,
    };
    this.machines.set(machine.Uuid, machine);
    return { type: 'machines', action: 'create', key: machine.Uuid, object: machine, original: null };
  }

  private advanceMachine(action: 'update' | 'save'): DrpObjectChange {
    const machine = [...this.machines.values()].at(-1);
    if (!machine) return this.createMachine();
    const index = STAGES.findIndex((s) => s.stage === machine.Stage);
    const nextStage = STAGES[(index + 1) % STAGES.length]!;
    const updated: Machine = {
      ...machine,
      Stage: nextStage.stage,
      BootEnv: nextStage.bootEnv,
      Runnable: nextStage.stage !== 'complete',
    };
    this.machines.set(updated.Uuid, updated);
    return { type: 'machines', action, key: updated.Uuid, object: updated, original: machine };
  }

  private saveGlobalProfile(): DrpObjectChange {
    const original = this.globalProfile;
    const Params = { ...original.Params };
    if ('bar' in Params) delete Params.bar;
    else Params.bar = 'blatz';
    this.globalProfile = { ...original, Params };
    return { type: 'profiles', action: 'save', key: 'global', object: this.globalProfile, original };
  }

  private createParam(): DrpObjectChange {
    const name = `demo-param-${this.serial}`;
    this.lastParam = name;
    return { type: 'params', action: 'create', key: name, object: paramObject(name), original: null };
  }

  private deleteParam(): DrpObjectChange {
    const name = this.lastParam ?? 'demo-param-0';
    this.lastParam = null;
    return { type: 'params', action: 'delete', key: name, object: paramObject(name), original: null };
  }

  private deleteOldestMachine(): DrpObjectChange {
    const machine = this.machines.values().next().value as Machine;
    this.machines.delete(machine.Uuid);
    return { type: 'machines', action: 'delete', key: machine.Uuid, object: machine, original: null };
  }
}

function paramObject(name: string): Record<string, unknown> {
  return {
    Name: name,
    Description: 'Demo parameter created by the DRP simulator',
    Documentation: '',
    Schema: { type: 'string', default: '' },
    Secure: false,
    Meta: {},
    Validated: true,
    Available: true,
    Errors: [],
    ReadOnly: false,
  };
}
