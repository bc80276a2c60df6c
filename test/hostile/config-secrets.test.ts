/**
 * Secrets in a YAML config (issue 10, failure 7): a password that starts with `*` or `!`, left
 * unquoted, must never reach stdout, stderr or logs, and a `!tag` must not silently change it. The
 * CLI refuses the file (exit 78) naming the line and key. Run as a child, as test/cli.test.ts does,
 * so everything printed is seen.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');

/** Runs the CLI on `yaml` until it exits (killed after 20 s: a config that was wrongly accepted keeps it running). */
async function runCli(yaml: string): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-edge-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml);
  const proc = spawn(TSX, ['src/main.ts', '--config', file], {
    env: { ...process.env, CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LOG_LEVEL: 'trace' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, output };
}

const provider = (passwordLine: string) =>
  ['providers:', '  - name: tower', '    kind: cloudtower', '    url: http://127.0.0.1:9', '    username: admin', `    ${passwordLine}`, ''].join('\n');

describe('YAML config errors never show a value', () => {
  it('an unquoted `*` password: refused naming the key, the value nowhere in the output', async () => {
    const { code, output } = await runCli(provider('password: *Hunter2-alias-secret'));
    expect(code).toBe(78);
    expect(output).toContain('providers.0.password');
    expect(output).toMatch(/line 6/);
    expect(output).not.toContain('Hunter2-alias-secret');
  });

  it('an unquoted `!` password: refused (not silently changed), the tag and the rest nowhere in the output', async () => {
    const { code, output } = await runCli(provider('password: !S3cretTag rest-of-the-secret'));
    expect(code).toBe(78);
    expect(output).toContain('providers.0.password');
    expect(output).toContain('unknown tag');
    expect(output).not.toContain('S3cretTag');
    expect(output).not.toContain('rest-of-the-secret');
  });

  it('syntax errors name the line, never the text there; an alias bomb is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-edge-'));
    const cases: [string, string][] = [
      [provider('password: "unclosed-secret-value'), 'unclosed-secret-value'],
      [provider('password: [flow-secret-value'), 'flow-secret-value'],
      [`${provider('password: x')}providers: again-secret-value\n`, 'again-secret-value'],
    ];
    for (const [yaml, secret] of cases) {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, yaml);
      let issues: string[] = [];
      try {
        loadConfigFile(file, {});
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        issues = (err as ConfigError).issues;
      }
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.join('\n')).toMatch(/line \d+/);
      expect(issues.join('\n')).not.toContain(secret);
    }
    // Billion laughs: stopped at the yaml package's alias budget, without expanding it.
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, `${bomb.join('\n')}\n`);
    const before = process.memoryUsage().heapUsed;
    expect(() => loadConfigFile(file, {})).toThrow(ConfigError);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });
});
