/**
 * Configuration from the environment, derived from the zod schema rather than listed by hand: every
 * key of the config is `CONSOLE_GATEWAY_` + its path in SCREAMING_SNAKE_CASE (`limits.maxConsolesPerCaller`
 * -> `CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES_PER_CALLER`), and every key of a `providers[]` entry is
 * `CONSOLE_GATEWAY_PROVIDER_<NAME>_<KEY PATH>`, read from that entry's kind's own schema (so a new
 * kind is mapped with no change here). `<VAR>_FILE` reads the value from a file (Kubernetes secrets
 * mounted as files). Values are coerced by the schema's type; the schema then validates them, and a
 * refusal names both the variable and the key (configFromEnv).
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from './errors.js';

export const ENV_PREFIX = 'CONSOLE_GATEWAY_';
export const PROVIDER_ENV_PREFIX = `${ENV_PREFIX}PROVIDER_`;

/** Short names kept from before the mapping was derived (the Dockerfile and older deployments use them). */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  CONSOLE_GATEWAY_HOST: 'CONSOLE_GATEWAY_SERVER_HOST',
  CONSOLE_GATEWAY_PORT: 'CONSOLE_GATEWAY_SERVER_PORT',
  CONSOLE_GATEWAY_PUBLIC_URL: 'CONSOLE_GATEWAY_SERVER_PUBLIC_URL',
};

/** How a variable's text becomes a value: by the schema type of the key it sets. */
type Coercion = 'string' | 'number' | 'boolean' | 'json' | { list: Coercion } | { stringOrList: Coercion };

/** One settable key: its path below the root (or below a provider entry) and how to read its text. */
export interface EnvKey {
  path: string[];
  coercion: Coercion;
}

/** `maxConsolesPerCaller` -> `MAX_CONSOLES_PER_CALLER`. */
export function screamingSnake(segment: string): string {
  return segment
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}

/** `tower-sh` -> `TOWER_SH`: how a provider's name appears in its variables. */
export function providerEnvName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

type Def = { type: string; [k: string]: unknown };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** Strip the wrappers that do not change what a key holds (optional, default, prefault, pipes, ...). */
function unwrap(schema: unknown): unknown {
  for (let i = 0; i < 32; i++) {
    const def = defOf(schema);
    if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type)) schema = def.innerType;
    else if (def.type === 'pipe') schema = def.in;
    else return schema;
  }
  return schema;
}

function coercionOf(schema: unknown): Coercion {
  const s = unwrap(schema);
  const def = defOf(s);
  switch (def.type) {
    case 'number':
    case 'int':
    case 'bigint':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
    case 'enum':
    case 'literal':
    case 'template_literal':
      return 'string';
    case 'array': {
      const element = coercionOf(def.element);
      return element === 'json' ? 'json' : { list: element };
    }
    case 'union': {
      const options = (def.options as unknown[]).map(coercionOf);
      const list = options.find((o): o is { list: Coercion } => typeof o === 'object' && 'list' in o);
      const scalar = options.find((o) => typeof o === 'string' && o !== 'json');
      if (list && scalar && options.length === 2) return { stringOrList: list.list };
      if (options.length > 0 && options.every((o) => o === options[0])) return options[0]!;
      return 'json';
    }
    default:
      return 'json';
  }
}

/**
 * Every settable key of an object schema: scalars, lists and (as JSON) anything else; nested objects
 * are walked. `skip` names top-level keys left out (`providers`, addressed by name instead).
 * Throws (a programming error) when two keys would share a variable, or one would read as another's `_FILE`.
 */
export function envKeysOf(schema: z.ZodType, skip: readonly string[] = []): Map<string, EnvKey> {
  const out = new Map<string, EnvKey>();
  const walk = (node: unknown, path: string[]): void => {
    const s = unwrap(node);
    const def = defOf(s);
    if (def.type === 'object') {
      for (const [key, child] of Object.entries(def.shape as Record<string, unknown>)) {
        if (path.length === 0 && skip.includes(key)) continue;
        walk(child, [...path, key]);
      }
      return;
    }
    const name = path.map(screamingSnake).join('_');
    const clash = out.get(name);
    if (clash) throw new Error(`config keys ${clash.path.join('.')} and ${path.join('.')} would share the variable ${name}`);
    out.set(name, { path, coercion: coercionOf(s) });
  };
  walk(schema, []);
  for (const name of out.keys()) {
    if (out.has(`${name}_FILE`)) throw new Error(`config key ${out.get(`${name}_FILE`)!.path.join('.')} would read as ${out.get(name)!.path.join('.')} from a file`);
  }
  return out;
}

/** A variable that set a key: shown beside the key when the schema refuses the value. */
export interface EnvSource {
  variable: string;
  path: (string | number)[];
}

/**
 * The variables' values, applied on top of `raw` (which is not changed). Throws ConfigError for a
 * variable no key maps to, a value of the wrong type, or an unreadable `_FILE`. Empty variables count as unset.
 * `providerKeysFor(kind)` gives a provider kind's keys; an entry of an unknown kind takes none.
 */
export function overlayEnv(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  rootKeys: Map<string, EnvKey>,
  providerKeysFor: (kind: unknown) => Map<string, EnvKey> | undefined,
): { raw: Record<string, unknown>; sources: EnvSource[] } {
  const out = structuredClone(raw);
  const sources: EnvSource[] = [];
  const problems: string[] = [];
  const providers = Array.isArray(out.providers) ? (out.providers as unknown[]) : [];
  const seen = new Map<string, string>();

  for (const [variable, rawValue] of Object.entries(env)) {
    if (!variable.startsWith(ENV_PREFIX) || rawValue === undefined || rawValue === '') continue;
    const fromFile = variable.endsWith('_FILE') && !known(variable) && known(variable.slice(0, -'_FILE'.length));
    const name = fromFile ? variable.slice(0, -'_FILE'.length) : variable;
    const canonical = ENV_ALIASES[name] ?? name;
    // A short form gives way to its long form (the image sets the short ones; an operator may set either).
    if (canonical !== name && env[canonical]) continue;
    const target = resolve(canonical);
    if (!target) {
      problems.push(`${variable}: no config key maps to this variable (README "Operations": CONSOLE_GATEWAY_ + the key's path in SCREAMING_SNAKE_CASE)`);
      continue;
    }
    const where = target.path.join('.');
    const earlier = seen.get(where);
    if (earlier) {
      problems.push(`${variable}: sets ${where}, which ${earlier} sets too; set one of them`);
      continue;
    }
    seen.set(where, variable);
    let text = rawValue;
    if (fromFile) {
      try {
        // A file written by `echo` ends in a newline that is not part of the secret.
        text = readFileSync(rawValue, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(`${variable} (${where}): cannot read the file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        continue;
      }
    }
    const value = coerce(text, target.key.coercion);
    if (value instanceof Error) {
      problems.push(`${variable} (${where}): ${value.message}`);
      continue;
    }
    setPath(out, target.path, value);
    sources.push({ variable, path: target.path });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { raw: out, sources };

  function known(name: string): boolean {
    return resolve(ENV_ALIASES[name] ?? name) !== undefined;
  }

  function resolve(name: string): { key: EnvKey; path: (string | number)[] } | undefined {
    const root = rootKeys.get(name.slice(ENV_PREFIX.length));
    const rootTarget = root ? { key: root, path: root.path } : undefined;
    if (!name.startsWith(PROVIDER_ENV_PREFIX)) return rootTarget;
    const rest = name.slice(PROVIDER_ENV_PREFIX.length);
    // Longest provider name first: `tower-sh` before `tower` for CONSOLE_GATEWAY_PROVIDER_TOWER_SH_URL.
    const candidates = providers
      .map((p, index) => ({ p: p as Record<string, unknown> | null, index }))
      .filter(({ p }) => typeof p === 'object' && p !== null && typeof p.name === 'string')
      .sort((a, b) => String(b.p!.name).length - String(a.p!.name).length);
    for (const { p, index } of candidates) {
      const prefix = `${providerEnvName(String(p!.name))}_`;
      if (!rest.startsWith(prefix)) continue;
      const key = providerKeysFor(p!.kind)?.get(rest.slice(prefix.length));
      if (key) return { key, path: ['providers', index, ...key.path] };
    }
    return rootTarget;
  }
}

function coerce(text: string, how: Coercion): unknown {
  if (how === 'string') return text;
  if (how === 'number') {
    const n = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(n) ? n : new Error(`must be a number, got "${text.slice(0, 32)}"`);
  }
  if (how === 'boolean') {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    return new Error(`must be true or false, got "${text.slice(0, 32)}"`);
  }
  if (how === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return new Error('must be JSON (this key holds a list of objects or a mapping)');
    }
  }
  const element = 'list' in how ? how.list : how.stringOrList;
  if ('stringOrList' in how && !text.trim().startsWith('[') && !text.includes(',')) return coerce(text, element);
  if (text.trim().startsWith('[')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // fall through to the message below
    }
    return new Error('must be a JSON array or a comma-separated list');
  }
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const values = items.map((item) => coerce(String(item), element));
  const bad = values.find((v) => v instanceof Error);
  return bad ?? values;
}

function setPath(target: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = target;
  for (const [i, segment] of path.entries()) {
    if (i === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next) !== (typeof path[i + 1] === 'number')) {
      node[segment] = typeof path[i + 1] === 'number' ? [] : {};
    }
    node = node[segment] as Record<string | number, unknown>;
  }
}

/** The README/`--help` text of the mapping rule. */
export const ENV_RULE = `Every config key can be set from the environment:
  CONSOLE_GATEWAY_<KEY PATH>                  e.g. limits.maxConsolesPerCaller -> CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES_PER_CALLER=5
  CONSOLE_GATEWAY_PROVIDER_<NAME>_<KEY PATH>  a providers[] entry by name (dashes as _), e.g. CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD
  <VARIABLE>_FILE=/path                       the value read from a file (a mounted secret); one trailing newline dropped
Key paths are camelCase segments in SCREAMING_SNAKE_CASE joined by _. Numbers and true/false are
parsed; lists are comma-separated (a,b) or a JSON array; lists of objects (auth.apiKeys) are JSON.
The environment wins over the file. Empty variables are ignored; an unknown CONSOLE_GATEWAY_*
variable stops the start. Short forms: CONSOLE_GATEWAY_HOST, _PORT, _PUBLIC_URL (server.*; the long form wins).`;
