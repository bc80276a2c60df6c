/**
 * The README's "Limits and bounds" tables and its configuration table are what operators read: every
 * config key they name must exist in the config schema, and every numeric default they state must be
 * the schema's own default. A renamed key or a changed default fails here instead of misleading readers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const providers = [
  { name: 'tower', kind: 'cloudtower', url: 'https://tower.example', username: 'u', password: 'p' },
  { name: 'abq', kind: 'abiquo', url: 'https://abiquo.example', username: 'u', password: 'p' },
  { name: 'drp', kind: 'drp', url: 'https://drp.example', username: 'u', password: 'p' },
];
const defaults = validateConfig({ providers }) as unknown as Record<string, unknown>;
const providerDefaults = (defaults.providers as Record<string, unknown>[]).map((p) => p);

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README has a "${title}" section`).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 4);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Table rows as cells, header and separator rows left out. */
function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('| ') && !/^\|[-| ]+\|$/.test(line))
    .map((line) => line.slice(1, -1).split(' | ').map((cell) => cell.trim()))
    .filter((cells) => !['Bound', 'key'].includes(cells[0]!));
}

function lookup(root: unknown, path: string): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return { found: false, value: undefined };
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

/** The first number in a default cell (`` `262144` (256 KiB) `` -> 262144, `15000 ms` -> 15000), or null. */
function statedNumber(cell: string): number | null {
  const m = /^`?(\d[\d_]*)`?(?:\s|$|\()/.exec(cell);
  return m ? Number(m[1]!.replace(/_/g, '')) : null;
}

/** The config sections are strict: a key the schema does not know is refused as unrecognized. */
function schemaKnows(key: string): boolean {
  const [sectionName, ...rest] = key.split('.');
  let value: unknown = null;
  for (const part of rest.reverse()) value = { [part]: value };
  try {
    validateConfig({ providers, [sectionName!]: value });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return !err.issues.some((issue) => /unrecognized key/i.test(issue));
  }
  return true;
}

const TOP_LEVEL = /^(server|console|limits|log|shutdown|events|redis|reload|recording)\./;

describe('README limits and configuration tables match the config schema', () => {
  it('every gateway-level key in "Limits and bounds" exists, with the stated default', () => {
    // The upstream rows name per-provider keys (`limits.maxResponseBytes` under a provider entry).
    const rows = tableRows(section('Limits and bounds').split('### Upstreams')[0]!);
    expect(schemaKnows('console.noSuchBound')).toBe(false);
    const checked: string[] = [];
    for (const [, keyCell = '', defaultCell = ''] of rows) {
      const key = /^`([a-zA-Z.]+)`/.exec(keyCell)?.[1];
      if (!key || !TOP_LEVEL.test(key)) continue;
      const { value } = lookup(defaults, key);
      expect(schemaKnows(key), `README names ${key}`).toBe(true);
      const stated = statedNumber(defaultCell);
      if (stated !== null && typeof value === 'number') expect(value, `default of ${key}`).toBe(stated);
      checked.push(key);
    }
    expect(checked.length).toBeGreaterThan(15);
  });

  it('every per-provider key in "Limits and bounds" exists on the kinds it names, with the stated default', () => {
    const upstream = section('Limits and bounds').split('### Upstreams')[1] ?? '';
    const checked: string[] = [];
    for (const [, keyCell = '', defaultCell = ''] of tableRows(upstream)) {
      const key = /^`([a-zA-Z.]+)`/.exec(keyCell)?.[1];
      if (!key) continue;
      const kinds = /\(([a-z, ]+)\)/.exec(keyCell)?.[1]?.split(',').map((k) => k.trim()) ?? [];
      expect(kinds.length, `README says which kinds have ${key}`).toBeGreaterThan(0);
      for (const kind of kinds) {
        const entry = providerDefaults.find((p) => p.kind === kind);
        const { found, value } = lookup(entry, key);
        expect(found, `${kind} has ${key}`).toBe(true);
        const stated = statedNumber(defaultCell);
        if (stated !== null && typeof value === 'number') expect(value, `default of ${kind} ${key}`).toBe(stated);
        checked.push(`${kind}.${key}`);
      }
    }
    expect(checked.length).toBeGreaterThan(5);
  });

  it('every gateway-level key in the configuration table exists, with the stated default', () => {
    const checked: string[] = [];
    for (const [keyCell = '', defaultCell = ''] of tableRows(section('Configuration'))) {
      const key = /^`([a-zA-Z.]+)`$/.exec(keyCell)?.[1];
      if (!key || !TOP_LEVEL.test(key)) continue;
      const { found, value } = lookup(defaults, key);
      // Optional keys (publicUrl, tokenFile, ...) are absent from the defaults: only check what has a default.
      if (!found) continue;
      const stated = statedNumber(defaultCell);
      if (stated !== null && typeof value === 'number') expect(value, `default of ${key}`).toBe(stated);
      checked.push(key);
    }
    expect(checked.length).toBeGreaterThan(15);
  });
});
