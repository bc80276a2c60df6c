/**
 * CloudTower's Prisma-1-style query arguments (`where`, `orderBy`, `skip`, `first`, ...) over an
 * in-memory list. CloudTower's REST API is generated from a Prisma 1 GraphQL schema, so its filters
 * follow Prisma 1's input types: `field` (equality), `field_not`, `field_in`, `field_not_in`,
 * `field_lt/_lte/_gt/_gte`, and for strings `field_contains`, `field_starts_with`, `field_ends_with`
 * with their `_not_` twins; relations take a nested where; `AND`/`OR`/`NOT` take lists.
 *
 * A where is compiled (and fully validated) before any record is looked at, so a bad filter is
 * rejected even when the list is empty, as the real server validates its input first.
 */

export type ScalarKind = 'string' | 'number' | 'boolean' | 'enum';

export interface ScalarField {
  kind: ScalarKind;
  /** Allowed values for `enum`. */
  values?: readonly string[];
}

/** What a where may mention for one entity type. */
export interface EntitySchema {
  scalars: Record<string, ScalarField>;
  relations: Record<string, EntitySchema>;
}

/** A filter or paging argument the server refuses (HTTP 400 in the REST API). */
export class QueryInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryInputError';
  }
}

type Operator =
  | 'equals'
  | 'not'
  | 'in'
  | 'not_in'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'contains'
  | 'not_contains'
  | 'starts_with'
  | 'not_starts_with'
  | 'ends_with'
  | 'not_ends_with';

// Longest first, so `name_not_in` is read as (name, not_in) and not (name_not, in).
const SUFFIXES: readonly Operator[] = [
  'not_starts_with',
  'not_ends_with',
  'not_contains',
  'starts_with',
  'ends_with',
  'contains',
  'not_in',
  'in',
  'not',
  'lte',
  'gte',
  'lt',
  'gt',
];

const OPERATORS_BY_KIND: Record<ScalarKind, ReadonlySet<Operator>> = {
  string: new Set<Operator>(['equals', ...SUFFIXES]),
  number: new Set<Operator>(['equals', 'not', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte']),
  boolean: new Set<Operator>(['equals', 'not']),
  enum: new Set<Operator>(['equals', 'not', 'in', 'not_in']),
};

export type Predicate<T> = (record: T) => boolean;
type Scalar = string | number | boolean | null;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readField(record: unknown, field: string): unknown {
  return isPlainObject(record) ? record[field] : undefined;
}

/** Split `memory_gt` into (`memory`, `gt`) using the schema, since field names contain underscores. */
function parseKey(key: string, schema: EntitySchema): { field: string; op: Operator } | null {
  if (key in schema.scalars) return { field: key, op: 'equals' };
  for (const suffix of SUFFIXES) {
    const ending = `_${suffix}`;
    if (key.endsWith(ending)) {
      const field = key.slice(0, -ending.length);
      if (field in schema.scalars) return { field, op: suffix };
    }
  }
  return null;
}

function checkScalar(value: unknown, spec: ScalarField, path: string, allowNull: boolean): Scalar {
  if (value === null) {
    if (allowNull) return null;
    throw new QueryInputError(`${path}: null is not allowed here`);
  }
  const ok =
    (spec.kind === 'string' && typeof value === 'string') ||
    (spec.kind === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (spec.kind === 'boolean' && typeof value === 'boolean') ||
    (spec.kind === 'enum' && typeof value === 'string' && (spec.values ?? []).includes(value));
  if (!ok) {
    const expected = spec.kind === 'enum' ? `one of ${(spec.values ?? []).join(', ')}` : `a ${spec.kind}`;
    throw new QueryInputError(`${path}: expected ${expected}`);
  }
  return value as Scalar;
}

function compare(a: Scalar | undefined, b: Scalar): number {
  if (a === null || a === undefined) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

function compileScalar<T>(field: string, op: Operator, raw: unknown, spec: ScalarField, path: string): Predicate<T> {
  if (!OPERATORS_BY_KIND[spec.kind].has(op)) {
    throw new QueryInputError(`${path}: operator not supported for ${spec.kind} field "${field}"`);
  }
  const get = (record: T): Scalar | undefined => readField(record, field) as Scalar | undefined;
  switch (op) {
    case 'equals':
    case 'not': {
      const wanted = checkScalar(raw, spec, path, true);
      const equal = (record: T) => (get(record) ?? null) === wanted;
      return op === 'equals' ? equal : (record) => !equal(record);
    }
    case 'in':
    case 'not_in': {
      if (!Array.isArray(raw)) throw new QueryInputError(`${path}: expected a list`);
      const wanted = new Set(raw.map((item, i) => checkScalar(item, spec, `${path}[${i}]`, false)));
      return op === 'in' ? (record) => wanted.has(get(record) ?? null) : (record) => !wanted.has(get(record) ?? null);
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const bound = checkScalar(raw, spec, path, false);
      const test = { lt: (c: number) => c < 0, lte: (c: number) => c <= 0, gt: (c: number) => c > 0, gte: (c: number) => c >= 0 }[op];
      // A null field is not comparable: SQL's `NULL < x` is not true, so the record is left out.
      return (record) => {
        const value = get(record);
        return value !== null && value !== undefined && test(compare(value, bound));
      };
    }
    default: {
      const needle = checkScalar(raw, spec, path, false) as string;
      const negated = op.startsWith('not_');
      const base = negated ? op.slice(4) : op;
      const test =
        base === 'contains'
          ? (s: string) => s.includes(needle)
          : base === 'starts_with'
            ? (s: string) => s.startsWith(needle)
            : (s: string) => s.endsWith(needle);
      return (record) => {
        const value = get(record);
        if (typeof value !== 'string') return false;
        return negated ? !test(value) : test(value);
      };
    }
  }
}

/** GraphQL input coercion turns a single object into a one-element list, so `AND: {...}` is accepted. */
function asList(value: unknown, path: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (isPlainObject(value)) return [value];
  throw new QueryInputError(`${path}: expected a list of where objects`);
}

/** Validate `where` against `schema` and turn it into a predicate. Throws QueryInputError. */
export function compileWhere<T>(where: unknown, schema: EntitySchema, path = 'where'): Predicate<T> {
  if (where === undefined || where === null) return () => true;
  if (!isPlainObject(where)) throw new QueryInputError(`${path}: expected an object`);
  const parts: Predicate<T>[] = [];
  for (const [key, value] of Object.entries(where)) {
    const keyPath = `${path}.${key}`;
    if (value === undefined) continue;
    if (key === 'AND' || key === 'OR' || key === 'NOT') {
      const inner = asList(value, keyPath).map((item, i) => compileWhere<T>(item, schema, `${keyPath}[${i}]`));
      if (key === 'AND') parts.push((record) => inner.every((p) => p(record)));
      // Prisma 1: an empty OR matches nothing; NOT is "none of them match".
      else if (key === 'OR') parts.push((record) => inner.some((p) => p(record)));
      else parts.push((record) => !inner.some((p) => p(record)));
      continue;
    }
    const relation = schema.relations[key];
    if (relation) {
      const inner = compileWhere<unknown>(value, relation, keyPath);
      parts.push((record) => {
        const related = readField(record, key);
        return related !== null && related !== undefined && inner(related);
      });
      continue;
    }
    const parsed = parseKey(key, schema);
    if (!parsed) throw new QueryInputError(`${keyPath}: unknown field`);
    const spec = schema.scalars[parsed.field] as ScalarField;
    parts.push(compileScalar<T>(parsed.field, parsed.op, value, spec, keyPath));
  }
  return (record) => parts.every((p) => p(record));
}

/** `name_ASC` / `memory_DESC` over a scalar field; ties keep the store's order (a stable sort). */
export function compileOrderBy<T>(orderBy: unknown, schema: EntitySchema): ((a: T, b: T) => number) | null {
  if (orderBy === undefined || orderBy === null) return null;
  const match = typeof orderBy === 'string' ? /^(.+)_(ASC|DESC)$/.exec(orderBy) : null;
  const field = match?.[1];
  if (!match || field === undefined || !(field in schema.scalars)) {
    throw new QueryInputError('orderBy: expected <field>_ASC or <field>_DESC on a scalar field');
  }
  const sign = match[2] === 'DESC' ? -1 : 1;
  return (a, b) => sign * compare(readField(a, field) as Scalar | undefined, (readField(b, field) ?? null) as Scalar);
}

export interface ListArgs {
  where?: unknown;
  orderBy?: unknown;
  skip?: unknown;
  first?: unknown;
  last?: unknown;
  after?: unknown;
  before?: unknown;
}

function optionalCount(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new QueryInputError(`${name}: expected a non-negative integer`);
  }
  return value;
}

function optionalCursor(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new QueryInputError(`${name}: expected an id`);
  return value;
}

/**
 * Filter, order and page `records` the way Prisma 1 does: cursors (`after`/`before`, by `id`) cut
 * the ordered list, then `skip` drops records (from the end when paging with `last`), then
 * `first`/`last` take records. `{skip:5, first:5}` is records 6-10.
 */
export function applyListArgs<T extends { id: string }>(records: readonly T[], args: ListArgs, schema: EntitySchema): T[] {
  const predicate = compileWhere<T>(args.where, schema);
  const order = compileOrderBy<T>(args.orderBy, schema);
  const skip = optionalCount(args.skip, 'skip') ?? 0;
  const first = optionalCount(args.first, 'first');
  const last = optionalCount(args.last, 'last');
  const after = optionalCursor(args.after, 'after');
  const before = optionalCursor(args.before, 'before');
  if (first !== undefined && last !== undefined) throw new QueryInputError('first and last cannot be used together');

  let list = records.filter(predicate);
  if (order) list = [...list].sort(order);
  if (after !== undefined) {
    const index = list.findIndex((r) => r.id === after);
    list = index < 0 ? [] : list.slice(index + 1);
  }
  if (before !== undefined) {
    const index = list.findIndex((r) => r.id === before);
    list = index < 0 ? [] : list.slice(0, index);
  }
  if (last !== undefined) {
    const end = Math.max(0, list.length - skip);
    return list.slice(Math.max(0, end - last), end);
  }
  list = list.slice(skip);
  return first === undefined ? list : list.slice(0, first);
}
