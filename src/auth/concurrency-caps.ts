/**
 * Caps on things that stay open (console sessions, graphql-ws connections): a global one and one
 * per caller. A slot is taken before the thing opens and given back exactly once when it ends.
 */

export interface ConcurrencyLimits {
  /** At most this many at once in total. */
  global: number;
  /** At most this many at once per caller. */
  perCaller: number;
}

export type CapRefusal = 'GLOBAL' | 'PER_CALLER';

export interface CapSlot {
  /** Give the slot back; later calls do nothing. */
  release(): void;
}

/** A cap as its users see it: this process's ConcurrencyCaps, or a fleet-wide one (src/fleet/caps.ts). */
export interface Caps {
  /** Would a new one be refused by the global cap, as far as is known now? (Checked early, before spending a credential.) */
  globalFull(): boolean;
  /** `caller` null counts towards the global cap only. */
  tryAcquire(caller: string | null): CapSlot | CapRefusal | Promise<CapSlot | CapRefusal>;
}

export class ConcurrencyCaps implements Caps {
  readonly #limits: () => ConcurrencyLimits;
  readonly #byCaller = new Map<string, number>();
  #total = 0;

  /** `limits` is read on every acquire, so a reload applies to the next one (open ones stay). */
  constructor(limits: () => ConcurrencyLimits) {
    this.#limits = limits;
  }

  get total(): number {
    return this.#total;
  }

  countFor(caller: string): number {
    return this.#byCaller.get(caller) ?? 0;
  }

  /** Would a new one be refused by the global cap? (Checked early, before spending a credential.) */
  globalFull(): boolean {
    return this.#total >= this.#limits().global;
  }

  /** `caller` null counts towards the global cap only (token-file consoles have no caller). */
  tryAcquire(caller: string | null): CapSlot | CapRefusal {
    const limits = this.#limits();
    if (this.#total >= limits.global) return 'GLOBAL';
    if (caller !== null && this.countFor(caller) >= limits.perCaller) return 'PER_CALLER';
    this.#total++;
    if (caller !== null) this.#byCaller.set(caller, this.countFor(caller) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        if (caller === null) return;
        const left = this.countFor(caller) - 1;
        if (left > 0) this.#byCaller.set(caller, left);
        else this.#byCaller.delete(caller);
      },
    };
  }
}
