/**
 * Every config key from the environment, by a rule derived from the schema: CONSOLE_GATEWAY_ + the
 * key's path in SCREAMING_SNAKE_CASE, providers by name, `_FILE` for values kept in files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configFromEnv, configSchema, loadConfigFile, validateConfig } from '../src/config.js';
import { envKeysOf, overlayEnv } from '../src/config-env.js';
import { ConfigError } from '../src/errors.js';
import { defineUpstreamKind } from '../src/upstreams/descriptor.js';
import { upstreamKinds } from '../src/upstreams/kinds.js';

const tower = { name: 'tower-sh', kind: 'cloudtower', url: 'https://tower.example', username: 'admin' };
const drp = { name: 'drp', kind: 'drp', url: 'https://drp.example', token: 't' };
const PASSWORD = 'pw-from-a-mounted-secret';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function configFile(text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'cg-env-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

const withProviders = (env: NodeJS.ProcessEnv) => configFromEnv({ providers: [tower, drp] }, { CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD: 'p', ...env });

describe('configuration from the environment', () => {
  it('sets any key by its path: numbers, booleans, enums and lists coerced by the schema type', () => {
    const config = withProviders({
      CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES_PER_CALLER: '5',
      CONSOLE_GATEWAY_LIMITS_TICKETS_PER_MINUTE: '2.5',
      CONSOLE_GATEWAY_SHUTDOWN_CONSOLE_GRACE_SECONDS: '30',
      CONSOLE_GATEWAY_CONSOLE_REUSABLE_TICKETS: 'true',
      CONSOLE_GATEWAY_LOG_LEVEL: 'debug',
      CONSOLE_GATEWAY_SERVER_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      CONSOLE_GATEWAY_SERVER_ALLOWED_HOSTS: '["gw.example"]',
      CONSOLE_GATEWAY_RELOAD_DEBOUNCE_MS: '50',
      CONSOLE_GATEWAY_AUTH_MODE: 'jwt',
      CONSOLE_GATEWAY_AUTH_JWT_ISSUER: 'https://idp.example',
      CONSOLE_GATEWAY_AUTH_JWT_AUDIENCE: 'a,b',
      CONSOLE_GATEWAY_AUTH_JWT_SECRET: 's'.repeat(32),
    });
    expect(config.limits.maxConsolesPerCaller).toBe(5);
    expect(config.limits.ticketsPerMinute).toBe(2.5);
    expect(config.shutdown.consoleGraceSeconds).toBe(30);
    expect(config.console.reusableTickets).toBe(true);
    expect(config.log.level).toBe('debug');
    expect(config.server.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.server.allowedHosts).toEqual(['gw.example']);
    expect(config.reload.debounceMs).toBe(50);
    expect(config.auth).toMatchObject({ mode: 'jwt', jwt: { issuer: 'https://idp.example', audience: ['a', 'b'], secret: 's'.repeat(32) } });
  });

  it('takes lists of objects as JSON, and the short forms HOST, PORT and PUBLIC_URL', () => {
    const apiKeys = [{ name: 'ops', hash: `sha256:${'a'.repeat(64)}` }];
    const config = withProviders({
      CONSOLE_GATEWAY_AUTH_MODE: 'apiKey',
      CONSOLE_GATEWAY_AUTH_API_KEYS: JSON.stringify(apiKeys),
      CONSOLE_GATEWAY_HOST: '0.0.0.0',
      CONSOLE_GATEWAY_PORT: '8080',
      CONSOLE_GATEWAY_PUBLIC_URL: 'https://gw.example',
    });
    expect(config.auth?.apiKeys).toEqual(apiKeys);
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080, publicUrl: 'https://gw.example' });
    // The long form wins over the short one (the image sets CONSOLE_GATEWAY_PORT; an operator may set either).
    expect(withProviders({ CONSOLE_GATEWAY_PORT: '1', CONSOLE_GATEWAY_SERVER_PORT: '2' }).server.port).toBe(2);
  });

  it('addresses provider entries by name, with each kind its own keys, nested ones included', () => {
    const config = withProviders({
      CONSOLE_GATEWAY_PROVIDER_TOWER_SH_URL: 'https://other.example',
      CONSOLE_GATEWAY_PROVIDER_TOWER_SH_TIMEOUTS_REQUEST_MS: '2000',
      CONSOLE_GATEWAY_PROVIDER_TOWER_SH_WEBSOCKIFY_CLUSTER_PORT: '8443',
      CONSOLE_GATEWAY_PROVIDER_TOWER_SH_TLS_INSECURE: 'true',
      CONSOLE_GATEWAY_PROVIDER_DRP_RECONNECT_MAX_MS: '1000',
      CONSOLE_GATEWAY_PROVIDER_DRP_LIMITS_MAX_MESSAGE_BYTES: '4096',
    });
    const [t, d] = config.providers;
    if (t?.kind !== 'cloudtower' || d?.kind !== 'drp') throw new Error('unexpected kinds');
    expect(t).toMatchObject({ url: 'https://other.example', password: 'p', timeouts: { requestMs: 2000 }, tls: { insecure: true }, websockify: { cluster: { port: 8443 } } });
    expect(d.reconnect.maxMs).toBe(1000);
    expect(d.limits.maxMessageBytes).toBe(4096);
    // A key of another kind is no key of this entry.
    expect(issuesOf(() => withProviders({ CONSOLE_GATEWAY_PROVIDER_DRP_CONSOLE_MODE: 'DIRECT' }))).toEqual([
      expect.stringMatching(/^CONSOLE_GATEWAY_PROVIDER_DRP_CONSOLE_MODE: no config key maps to this variable/),
    ]);
  });

  it('reads any value from the file named by <VARIABLE>_FILE, without its trailing newline', () => {
    const file = configFile('');
    const secretFile = join(dir!, 'password');
    writeFileSync(secretFile, `${PASSWORD}\n`);
    writeFileSync(file, `providers:\n  - name: tower-sh\n    kind: cloudtower\n    url: https://tower.example\n    username: admin\n`);
    const config = loadConfigFile(file, { CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD_FILE: secretFile, CONSOLE_GATEWAY_CONSOLE_TOKEN_FILE: '/etc/tokens' });
    expect(config.providers[0]).toMatchObject({ password: PASSWORD });
    // A key whose own name ends in _FILE is that key, not a file read.
    expect(config.console.tokenFile).toBe('/etc/tokens');
    expect(issuesOf(() => loadConfigFile(file, { CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD: 'a', CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD_FILE: secretFile }))).toEqual([
      'CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD_FILE: sets providers.0.password, which CONSOLE_GATEWAY_PROVIDER_TOWER_SH_PASSWORD sets too; set one of them',
    ]);
    expect(issuesOf(() => loadConfigFile(file, { CONSOLE_GATEWAY_AUTH_JWT_SECRET_FILE: join(dir!, 'missing') }))).toEqual([
      'CONSOLE_GATEWAY_AUTH_JWT_SECRET_FILE (auth.jwt.secret): cannot read the file: ENOENT',
    ]);
  });

  it('refuses a bad value naming the variable and the key, never echoing a string value', () => {
    const issues = issuesOf(() =>
      withProviders({
        CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES: 'many',
        CONSOLE_GATEWAY_CONSOLE_REUSABLE_TICKETS: 'yes please',
      }),
    );
    expect(issues).toEqual([
      'CONSOLE_GATEWAY_LIMITS_MAX_CONSOLES (limits.maxConsoles): must be a number, got "many"',
      'CONSOLE_GATEWAY_CONSOLE_REUSABLE_TICKETS (console.reusableTickets): must be true or false, got "yes please"',
    ]);
    const schemaIssues = issuesOf(() =>
      withProviders({
        CONSOLE_GATEWAY_LIMITS_MAX_DEPTH: '0',
        CONSOLE_GATEWAY_AUTH_MODE: 'open-sesame',
        CONSOLE_GATEWAY_PROVIDER_TOWER_SH_URL: 'not a url with a secret',
      }),
    );
    expect(schemaIssues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^limits\.maxDepth: .* \(from CONSOLE_GATEWAY_LIMITS_MAX_DEPTH\)$/),
        expect.stringMatching(/^auth\.mode: must be one of .* \(from CONSOLE_GATEWAY_AUTH_MODE\)$/),
        'providers.0.url: must be an absolute http:// or https:// URL (from CONSOLE_GATEWAY_PROVIDER_TOWER_SH_URL)',
      ]),
    );
    expect(schemaIssues.join('\n')).not.toContain('secret');
    expect(issuesOf(() => withProviders({ CONSOLE_GATEWAY_LIMITS_MAX_CONSOLE: '5', CONSOLE_GATEWAY_PROVIDER_NOPE_PASSWORD: 'x' }))).toEqual([
      expect.stringMatching(/^CONSOLE_GATEWAY_LIMITS_MAX_CONSOLE: no config key maps to this variable/),
      expect.stringMatching(/^CONSOLE_GATEWAY_PROVIDER_NOPE_PASSWORD: no config key maps to this variable/),
    ]);
  });

  it('maps every key of the schema, so a key added later is settable with no change to the mapping', () => {
    // Each default-valued leaf of the whole config is reachable by its derived variable.
    const defaults = validateConfig({ providers: [{ ...tower, password: 'p' }] }) as unknown as Record<string, unknown>;
    const leaves: string[] = [];
    const walk = (node: unknown, path: string[]): void => {
      if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
        for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
      } else leaves.push(path.join('.'));
    };
    const { providers: _, ...sections } = defaults;
    walk(sections, []);
    const keys = envKeysOf(configSchema, ['providers']);
    const paths = new Set([...keys.values()].map((k) => k.path.join('.')));
    for (const leaf of leaves) expect(paths, leaf).toContain(leaf);
  });

  it('maps a section it has never seen (a redis section) and a kind it has never seen', () => {
    const schema = z.object({
      redis: z.object({ url: z.string().optional(), tls: z.boolean().default(false), keyPrefix: z.string().default('cg:') }).strict().prefault({}),
      providers: z.array(z.object({ name: z.string() })),
    });
    const { raw } = overlayEnv({ providers: [{ name: 'mem', kind: 'memory' }] }, {
      CONSOLE_GATEWAY_REDIS_URL_FILE: writeTemp('redis://:pw@10.0.0.1:6379\n'),
      CONSOLE_GATEWAY_REDIS_TLS: 'true',
      CONSOLE_GATEWAY_PROVIDER_MEM_VMS: 'a,b,c',
    }, envKeysOf(schema, ['providers']), (kind) => (kind === 'memory' ? envKeysOf(memoryKind.configSchema, ['kind', 'name']) : undefined));
    expect(raw).toEqual({ redis: { url: 'redis://:pw@10.0.0.1:6379', tls: true }, providers: [{ name: 'mem', kind: 'memory', vms: ['a', 'b', 'c'] }] });
    // Through the real config with the extra kind passed in.
    const config = configFromEnv({ providers: [{ name: 'mem', kind: 'memory' }] }, { CONSOLE_GATEWAY_PROVIDER_MEM_VMS: 'x' }, [...upstreamKinds, memoryKind]);
    expect(config.providers[0]).toMatchObject({ vms: ['x'] });
  });
});

const memoryKind = defineUpstreamKind({
  kind: 'memory',
  configSchema: z.object({ kind: z.literal('memory'), name: z.string(), vms: z.array(z.string().min(1)).default([]) }).strict(),
  provides: { vms: false, consoles: false, events: false },
  create: () => ({ name: 'mem', kind: 'memory', checkReady: async () => ({ ok: true }), state: async () => ({}) as never, close: async () => {} }) as never,
});

function writeTemp(text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'cg-env-'));
  const file = join(dir, `v${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  return file;
}
