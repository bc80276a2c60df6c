/**
 * The published contract: the SDL of the running schema (`console-gateway print-schema`) and the
 * breaking-change check of that SDL against the committed baseline (schema/baseline/schema.graphql,
 * `npm run schema:check`, run by .ci/run).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSchema, lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildGatewaySchema } from './schema.js';

export const BASELINE_PATH = fileURLToPath(new URL('../../schema/baseline/schema.graphql', import.meta.url));

/** The SDL of the schema the gateway serves, types sorted so the text is stable. */
export function printGatewaySchema(schema: GraphQLSchema = buildGatewaySchema()): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

export interface ContractCheck {
  /** Changes that can break an existing client (removed or retyped fields, removed enum values, ...). */
  breaking: Change[];
  /** Every other difference (additions, descriptions). */
  other: Change[];
}

/** What changed from `baselineSdl` to `currentSdl`, as @graphql-inspector/core classifies it. */
export async function compareWithBaseline(baselineSdl: string, currentSdl: string): Promise<ContractCheck> {
  const changes = await diff(buildSchema(baselineSdl), buildSchema(currentSdl));
  return {
    breaking: changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking),
    other: changes.filter((c) => c.criticality.level !== CriticalityLevel.Breaking),
  };
}

/**
 * The CI check: 0 when the served schema equals the baseline. A breaking change fails, listed, unless
 * the baseline was updated with it (then the two are equal again); any other drift fails too, so the
 * committed baseline always is the contract being served.
 */
export async function runSchemaCheck(out: { write(s: string): unknown }, baselineSdl = readFileSync(BASELINE_PATH, 'utf8'), currentSdl = printGatewaySchema()): Promise<number> {
  const { breaking, other } = await compareWithBaseline(baselineSdl, currentSdl);
  if (breaking.length > 0) {
    out.write(`schema check: ${breaking.length} breaking change(s) against schema/baseline/schema.graphql:\n`);
    for (const c of breaking) out.write(`  BREAKING ${c.path ?? ''}: ${c.message}\n`);
    out.write('If the break is intended: run `npm run schema:baseline`, add a schema/CHANGELOG.md entry saying why, and commit both with the change.\n');
    return 1;
  }
  if (other.length > 0 || baselineSdl !== currentSdl) {
    out.write(`schema check: the baseline is out of date (${other.length} non-breaking change(s)):\n`);
    for (const c of other) out.write(`  ${c.path ?? ''}: ${c.message}\n`);
    out.write('Run `npm run schema:baseline`, add a schema/CHANGELOG.md entry, and commit both.\n');
    return 1;
  }
  out.write('schema check: the served schema matches schema/baseline/schema.graphql\n');
  return 0;
}
