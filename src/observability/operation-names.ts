/**
 * GraphQL operation names come from clients, so as metric labels they must be bounded: a client
 * sending a fresh name per request would otherwise grow the registry without limit.
 */

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export class BoundedLabels {
  readonly #seen = new Set<string>();

  /** @param max distinct names kept before new ones are reported as `other`. */
  constructor(private readonly max = 200) {}

  label(name: string | null | undefined): string {
    if (name === null || name === undefined || name === '') return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.#seen.has(name)) return name;
    if (this.#seen.size >= this.max) return 'other';
    this.#seen.add(name);
    return name;
  }
}
