/**
 * One event socket's registrations: `type.action.key` filters where each part is `*` or an exact value
 * (UPSTREAMS.md, DRP; "13.4.1 Register for Events"). The simulator's own reading of DRP, independent of
 * the gateway's event patterns (src/events/pattern.ts) and its DRP client.
 */
import type { DrpEvent } from './wire.js';

export interface RegistrationFilter {
  type: string;
  action: string;
  key: string;
}

const ANY = '*';

/**
 * Splits a filter on its first two dots: everything after the second is the key, because DRP keys may
 * themselves hold dots (lease and reservation keys are IPv4 addresses, e.g. `leases.create.10.0.0.5`).
 * Null for text without three parts; the server ignores such a command like any other it cannot use.
 */
export function parseRegistrationFilter(text: string): RegistrationFilter | null {
  const [type, action, ...keyParts] = text.split('.');
  if (type === undefined || action === undefined || keyParts.length === 0) return null;
  return { type, action, key: keyParts.join('.') };
}

/** Each part is compared whole: `*` matches anything, every other value only itself (`mach*` is no prefix). */
export function registrationMatches(filter: RegistrationFilter, event: Pick<DrpEvent, 'Type' | 'Action' | 'Key'>): boolean {
  const part = (wanted: string, actual: string): boolean => wanted === ANY || wanted === actual;
  return part(filter.type, event.Type) && part(filter.action, event.Action) && part(filter.key, event.Key);
}

export type RegisterOutcome = 'registered' | 'duplicate' | 'ignored';

/** The filters one socket registered, keyed by their text as sent (that is what `deregister` names). */
export class SocketRegistrations {
  readonly #filters = new Map<string, RegistrationFilter>();

  register(text: string): RegisterOutcome {
    const filter = parseRegistrationFilter(text);
    if (!filter) return 'ignored';
    if (this.#filters.has(text)) return 'duplicate';
    this.#filters.set(text, filter);
    return 'registered';
  }

  /** False when the text is not a filter at all; removing one that was never registered is still true. */
  deregister(text: string): boolean {
    if (!parseRegistrationFilter(text)) return false;
    this.#filters.delete(text);
    return true;
  }

  /** Whether any registration matches: a socket gets one copy of an event however many filters match. */
  wants(event: Pick<DrpEvent, 'Type' | 'Action' | 'Key'>): boolean {
    for (const filter of this.#filters.values()) if (registrationMatches(filter, event)) return true;
    return false;
  }

  list(): string[] {
    return [...this.#filters.keys()];
  }

  get size(): number {
    return this.#filters.size;
  }
}
