/**
 * The Abiquo VM cache, one entry per enterprise, and its sequence rules. Reads overlap (a full walk,
 * a debounced refresh of one enterprise, a re-read of the enterprise list), so every read takes a
 * sequence number when it starts and an older read never overwrites what a newer one stored.
 * No I/O here: refresh.ts does the reading and hands the results in.
 */
import type { GatewayError } from '../../errors.js';
import type { VmRecord } from '../types.js';
import type { AbiquoWalkResult } from './client.js';
import type { AbiquoEnterprise, AbiquoVm } from './model.js';
import { toVmRecord } from './records.js';

export interface EnterpriseEntry {
  enterprise: AbiquoEnterprise;
  vms: AbiquoVm[];
  /** Why the last read of this enterprise's VMs failed; its older VMs are still served. */
  error: GatewayError | null;
  /** Sequence number of the read that produced `vms`; an older read never overwrites a newer one. */
  seq: number;
}

export class AbiquoVmCache {
  readonly #provider: string;
  readonly #entries = new Map<number, EnterpriseEntry>();
  #seq = 0;
  #records: VmRecord[] | null = null;

  constructor(provider: string) {
    this.#provider = provider;
  }

  /** The sequence number of a read about to start. */
  nextSeq(): number {
    return ++this.#seq;
  }

  get(enterpriseId: number): EnterpriseEntry | undefined {
    return this.#entries.get(enterpriseId);
  }

  entries(): EnterpriseEntry[] {
    return [...this.#entries.values()];
  }

  /** Entries whose last read failed. */
  failing(): EnterpriseEntry[] {
    return this.entries().filter((e) => e.error !== null);
  }

  vms(): AbiquoVm[] {
    return this.entries().flatMap((e) => e.vms);
  }

  enterpriseOfVm(vmId: number): number | null {
    for (const [id, entry] of this.#entries) if (entry.vms.some((v) => v.id === vmId)) return id;
    return null;
  }

  /** Normalised records, ordered by enterprise then VM id; rebuilt only after a change. */
  records(): VmRecord[] {
    if (this.#records) return this.#records;
    const entries = this.entries().sort((a, b) => a.enterprise.id - b.enterprise.id);
    this.#records = entries.flatMap((e) =>
      [...e.vms].sort((a, b) => a.id - b.id).map((vm) => toVmRecord(this.#provider, e.enterprise, vm)),
    );
    return this.#records;
  }

  /**
   * Store a full walk that started at `seq`: enterprises no longer listed go (unless read since),
   * and each listed one takes the walk's VMs unless a newer read got there first. An enterprise
   * whose VMs could not be read keeps its older VMs with the error. Returns the errors it stored.
   */
  applyWalk(result: AbiquoWalkResult, seq: number): Array<{ enterpriseId: number; error: GatewayError }> {
    this.#records = null;
    const listed = new Set(result.enterprises.map((e) => e.id));
    for (const [id, entry] of this.#entries) if (!listed.has(id) && entry.seq < seq) this.#entries.delete(id);
    const vmsOf = new Map<number, AbiquoVm[]>();
    for (const { enterpriseId, vm } of result.vms) {
      const list = vmsOf.get(enterpriseId) ?? [];
      list.push(vm);
      vmsOf.set(enterpriseId, list);
    }
    const errorOf = new Map(result.errors.map((e) => [e.enterpriseId, e.error]));
    const stored: Array<{ enterpriseId: number; error: GatewayError }> = [];
    for (const enterprise of result.enterprises) {
      const existing = this.#entries.get(enterprise.id);
      if (existing && existing.seq > seq) continue;
      const error = errorOf.get(enterprise.id);
      if (error) {
        stored.push({ enterpriseId: enterprise.id, error });
        this.#entries.set(enterprise.id, { enterprise, vms: existing?.vms ?? [], error, seq: existing?.seq ?? 0 });
      } else {
        this.#entries.set(enterprise.id, { enterprise, vms: vmsOf.get(enterprise.id) ?? [], error: null, seq });
      }
    }
    return stored;
  }

  /** Store one enterprise's VMs read by the read numbered `seq` (ignored if a newer read stored already). */
  applyVms(enterprise: AbiquoEnterprise, seq: number, vms: AbiquoVm[]): void {
    const current = this.#entries.get(enterprise.id);
    if (current && current.seq > seq) return;
    this.#records = null;
    this.#entries.set(enterprise.id, { enterprise: current?.enterprise ?? enterprise, vms, error: null, seq });
  }

  /**
   * Record a failed read of one enterprise's VMs; false when a newer read has stored since (the
   * failure is then stale). A 404 means the enterprise is gone, and so are its VMs.
   */
  applyError(enterprise: AbiquoEnterprise, seq: number, error: GatewayError): boolean {
    const current = this.#entries.get(enterprise.id);
    if (current && current.seq > seq) return false;
    this.#records = null;
    if (error.details.status === 404) this.#entries.delete(enterprise.id);
    else if (current) this.#entries.set(enterprise.id, { ...current, error });
    else this.#entries.set(enterprise.id, { enterprise, vms: [], error, seq: 0 });
    return true;
  }

  /**
   * Store a fresh enterprise list read by the read numbered `seq`: enterprises gone are dropped (unless
   * read since), known ones take the new details. Returns the enterprises not known yet, to be read.
   */
  applyEnterpriseList(enterprises: AbiquoEnterprise[], seq: number): AbiquoEnterprise[] {
    this.#records = null;
    const listed = new Set(enterprises.map((e) => e.id));
    for (const [id, entry] of this.#entries) if (!listed.has(id) && entry.seq < seq) this.#entries.delete(id);
    const fresh: AbiquoEnterprise[] = [];
    for (const enterprise of enterprises) {
      const entry = this.#entries.get(enterprise.id);
      if (entry) entry.enterprise = enterprise;
      else fresh.push(enterprise);
    }
    return fresh;
  }
}
