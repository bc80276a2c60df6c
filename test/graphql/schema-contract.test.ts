import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSchema } from 'graphql';
import { BASELINE_PATH, printGatewaySchema, runSchemaCheck } from '../../src/graphql/contract.js';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');

function cli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(TSX, ['src/main.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => resolve({ code, stdout }));
  });
}

function sink(): { write(s: string): void; text: string } {
  const o = { text: '', write: (s: string) => void (o.text += s) };
  return o;
}

describe('the published schema and its breaking-change check', () => {
  it('print-schema prints the served SDL, which is the committed baseline', async () => {
    const { code, stdout } = await cli(['print-schema']);
    expect(code).toBe(0);
    expect(stdout).toBe(readFileSync(BASELINE_PATH, 'utf8'));
    const schema = buildSchema(stdout);
    expect(schema.getMutationType()?.getFields().openConsole).toBeDefined();
    expect(schema.getType('Node')).toBeDefined();
  });

  it('schema-check passes on the committed baseline', async () => {
    const { code, stdout } = await cli(['schema-check']);
    expect(stdout).toContain('matches');
    expect(code).toBe(0);
  });

  it('reports a breaking change against the baseline, and non-breaking drift as an out-of-date baseline', async () => {
    const current = printGatewaySchema();
    const withoutField = current.replace(/\n {2}"""The host's management IP address, where known."""\n {2}ip: String\n/, '\n');
    expect(withoutField).not.toBe(current);
    const broken = sink();
    expect(await runSchemaCheck(broken, current, withoutField)).toBe(1);
    expect(broken.text).toMatch(/BREAKING Host\.ip: Field 'ip' .*removed/);

    const renamedValue = current.replace(/\n {2}UNKNOWN\n/, '\n  UNMAPPED\n');
    const enumBroken = sink();
    expect(await runSchemaCheck(enumBroken, current, renamedValue)).toBe(1);
    expect(enumBroken.text).toContain('BREAKING VmStatus.UNKNOWN');

    const drift = sink();
    expect(await runSchemaCheck(drift, withoutField, current)).toBe(1);
    expect(drift.text).toMatch(/out of date \(\d+ non-breaking change\(s\)\):\n  Host.ip: /);
  });
});
