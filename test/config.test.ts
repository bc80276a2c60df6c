import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, validateConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const tower = { name: 'tower-sh', kind: 'cloudtower', url: 'https://tower.example', username: 'u', password: 'secret-pw' };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies documented defaults', () => {
    const config = validateConfig({ providers: [tower] });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 4000 });
    expect(config.console.ticketTtlSeconds).toBe(30);
    const p = config.providers[0]!;
    expect(p.kind).toBe('cloudtower');
    if (p.kind !== 'cloudtower') throw new Error('unreachable');
    expect(p.websockify.cluster).toEqual({ scheme: 'wss', port: 443 });
    expect(p.websockify.tower).toEqual({ scheme: 'wss', port: 443 });
    expect(p.consoleMode).toBe('GATEWAY');
    expect(p.userSource).toBe('LOCAL');
  });

  it('refuses a config with no providers, naming the key', () => {
    expect(issuesOf(() => validateConfig({ providers: [] }))).toEqual(['providers: at least one provider is required']);
    expect(issuesOf(() => validateConfig({})).join()).toMatch(/^providers:/);
  });

  it('refuses a bad URL, a bad port and an unknown key, naming each key', () => {
    const issues = issuesOf(() =>
      validateConfig({ server: { port: 70000, colour: 'red' }, providers: [{ ...tower, url: 'tower.example' }] }),
    );
    expect(issues.some((i) => i.startsWith('server.port:'))).toBe(true);
    expect(issues.some((i) => i.startsWith('server:') && i.includes('colour'))).toBe(true);
    expect(issues).toContain('providers.0.url: must be an absolute http:// or https:// URL');
  });

  it('requires credentials and unique names, and never echoes a secret', () => {
    const noCreds = issuesOf(() => validateConfig({ providers: [{ name: 'a', kind: 'cloudtower', url: 'https://x' }] }));
    expect(noCreds.join()).toMatch(/providers\.0: needs either `token` or both `username` and `password`/);
    const dup = issuesOf(() => validateConfig({ providers: [tower, tower] }));
    expect(dup).toContain('providers.1.name: duplicate provider name "tower-sh"');
    const badKind = issuesOf(() => validateConfig({ providers: [{ ...tower, kind: 'vsphere' }] }));
    expect(badKind.join()).toMatch(/^providers\.0\.kind/);
    expect([...noCreds, ...dup, ...badKind].join()).not.toContain('secret-pw');
  });

  it('reads YAML from a file and lets the environment override and supply secrets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'server:\n  port: 5000\nproviders:\n  - name: tower-sh\n    kind: cloudtower\n    url: https://tower.example\n    username: admin\n');
    const config = loadConfigFile(file, { CONSOLE_GATEWAY_PORT: '6000', CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD: 'from-env' });
    expect(config.server.port).toBe(6000);
    const p = config.providers[0]!;
    expect(p.kind === 'cloudtower' && p.password).toBe('from-env');
  });

  it('reports an unreadable or unparsable file clearly', () => {
    expect(issuesOf(() => loadConfigFile('/nonexistent/gateway.yaml', {}))[0]).toMatch(/--config: cannot read "\/nonexistent\/gateway.yaml": ENOENT/);
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'providers: [unclosed');
    expect(issuesOf(() => loadConfigFile(file, {}))[0]).toMatch(/is not valid YAML or JSON/);
  });
});
