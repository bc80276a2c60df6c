import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApiKeyVerifier, generateApiKey, hashApiKey } from '../../src/auth/api-keys.js';
import { ConcurrencyCaps } from '../../src/auth/concurrency-caps.js';
import { credentialFromConnectionParams, credentialFromHeaders } from '../../src/auth/credentials.js';
import { runHashKeyCommand } from '../../src/auth/hash-key-command.js';
import { isLoopbackHost } from '../../src/auth/loopback.js';
import { OriginPolicy } from '../../src/auth/origin.js';
import { KeyedTokenBucket } from '../../src/auth/token-bucket.js';
import { applyEnvOverrides, validateConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const PROVIDERS = [{ name: 'tower', kind: 'cloudtower', url: 'https://tower.example', token: 't' }];
const HASH = hashApiKey('k'.repeat(40));

function issuesOf(raw: Record<string, unknown>): string[] {
  try {
    validateConfig({ providers: PROVIDERS, ...raw });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('API keys', () => {
  it('stores only a sha256 hash and finds the key it belongs to', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^cgk_[A-Za-z0-9_-]{43}$/);
    const verifier = new ApiKeyVerifier([
      { name: 'ops', hash: hashApiKey(key), providers: ['tower'] },
      { name: 'other', hash: HASH },
    ]);
    expect(hashApiKey(key)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toContain(key);
    expect(verifier.verify(key)?.name).toBe('ops');
    expect(verifier.verify(`${key}x`)).toBeNull();
    expect(verifier.verify('')).toBeNull();
  });

  it('hash-key prints the hash of a key read from stdin, and --generate makes a key', async () => {
    const run = async (args: string[], input: string) => {
      const stdin = new PassThrough();
      stdin.end(input);
      let out = '';
      let err = '';
      const sink = (append: (s: string) => void) => new Writable({ write: (c: Buffer, _e, cb) => (append(c.toString()), cb()) });
      const code = await runHashKeyCommand(args, { stdin, stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) });
      return { code, out, err };
    };
    const key = 'cgk_abcdefghijklmnopqrstuvwxyz0123456789';
    expect(await run([], `${key}\n`)).toEqual({ code: 0, out: `${hashApiKey(key)}\n`, err: '' });
    expect((await run([], 'short')).code).toBe(2);
    const generated = await run(['--generate'], '');
    const [, newKey] = /key: +(\S+)/.exec(generated.out)!;
    expect(generated.out).toContain(`hash: ${hashApiKey(newKey!)}`);
    expect((await run(['--bogus'], '')).code).toBe(2);
  });
});

describe('credentials', () => {
  it('reads Bearer, ApiKey and x-api-key from headers, refusing two at once or an unknown scheme', () => {
    expect(credentialFromHeaders({ authorization: 'Bearer a.b.c' })).toEqual({ kind: 'bearer', value: 'a.b.c' });
    expect(credentialFromHeaders({ authorization: 'apikey k1' })).toEqual({ kind: 'apiKey', value: 'k1' });
    expect(credentialFromHeaders({ 'x-api-key': 'k2' })).toEqual({ kind: 'apiKey', value: 'k2' });
    expect(credentialFromHeaders({})).toEqual({ kind: 'none' });
    expect(credentialFromHeaders({ authorization: 'Basic dTpw' })).toMatchObject({ kind: 'invalid', reason: 'UNSUPPORTED_SCHEME' });
    expect(credentialFromHeaders({ authorization: 'Bearer x', 'x-api-key': 'k' })).toMatchObject({ kind: 'invalid', reason: 'AMBIGUOUS' });
  });

  it('reads graphql-ws connectionParams', () => {
    expect(credentialFromConnectionParams({ authorization: 'Bearer t' })).toEqual({ kind: 'bearer', value: 't' });
    expect(credentialFromConnectionParams({ Authorization: 'ApiKey k' })).toEqual({ kind: 'apiKey', value: 'k' });
    expect(credentialFromConnectionParams({ apiKey: 'k' })).toEqual({ kind: 'apiKey', value: 'k' });
    expect(credentialFromConnectionParams({ other: 1 })).toEqual({ kind: 'none' });
    expect(credentialFromConnectionParams(undefined)).toEqual({ kind: 'none' });
    expect(credentialFromConnectionParams({ apiKey: 42 })).toMatchObject({ kind: 'invalid' });
    expect(credentialFromConnectionParams({ apiKey: 'a', authorization: 'Bearer b' })).toMatchObject({ kind: 'invalid', reason: 'AMBIGUOUS' });
  });
});

describe('per-caller token bucket', () => {
  it('allows the burst, then refills at the configured rate, per key', () => {
    let now = 1_000_000;
    const bucket = new KeyedTokenBucket({ limits: () => ({ perMinute: 30, burst: 3 }), now: () => now });
    for (let i = 0; i < 3; i++) expect(bucket.take('a')).toEqual({ ok: true });
    const refused = bucket.take('a');
    expect(refused).toMatchObject({ ok: false, retryAfterMs: 2000 });
    expect(bucket.take('b')).toEqual({ ok: true });
    now += 2000;
    expect(bucket.take('a')).toEqual({ ok: true });
    expect(bucket.take('a').ok).toBe(false);
  });

  it('forgets buckets that have refilled, so memory follows active callers only', () => {
    let now = 0;
    const bucket = new KeyedTokenBucket({ limits: () => ({ perMinute: 60, burst: 2 }), now: () => now, sweepIntervalMs: 10_000 });
    for (let i = 0; i < 100; i++) bucket.take(`caller-${i}`);
    expect(bucket.size).toBe(100);
    now += 60_000;
    bucket.take('late');
    expect(bucket.size).toBe(1);
  });
});

describe('concurrency caps', () => {
  it('counts per caller and globally, and releases a slot once', () => {
    const caps = new ConcurrencyCaps(() => ({ global: 3, perCaller: 2 }));
    const a1 = caps.tryAcquire('a');
    const a2 = caps.tryAcquire('a');
    expect(caps.tryAcquire('a')).toBe('PER_CALLER');
    const b1 = caps.tryAcquire('b');
    expect(caps.tryAcquire('c')).toBe('GLOBAL');
    expect(caps.tryAcquire(null)).toBe('GLOBAL');
    if (typeof a1 === 'string' || typeof a2 === 'string' || typeof b1 === 'string') throw new Error('unexpected refusal');
    a1.release();
    a1.release();
    expect(caps.total).toBe(2);
    expect(caps.countFor('a')).toBe(1);
    expect(typeof caps.tryAcquire(null)).toBe('object');
  });
});

describe('Origin policy', () => {
  const req = (origin: string | undefined, host = 'gw.example:4000') => ({ headers: { host, ...(origin === undefined ? {} : { origin }) } });
  it('allows no Origin and the same origin by default, refuses other sites', () => {
    const policy = new OriginPolicy();
    expect(policy.allows(req(undefined))).toBe(true);
    expect(policy.allows(req('http://gw.example:4000'))).toBe(true);
    expect(policy.allows(req('http://gw.example', 'gw.example:80'))).toBe(true);
    // Scheme, host and port: the gateway speaks http itself; an https origin needs publicUrl or allowedOrigins.
    expect(policy.allows(req('https://gw.example', 'gw.example:443'))).toBe(false);
    expect(policy.allows(req('https://gw.example:4000'))).toBe(false);
    expect(policy.allows(req('https://evil.example'))).toBe(false);
    expect(policy.allows(req('http://gw.example:4001'))).toBe(false);
    expect(policy.allows(req('null'))).toBe(false);
    expect(policy.allows(req('not a url'))).toBe(false);
  });

  it('allows listed origins, the public URL, and anything with *', () => {
    const policy = new OriginPolicy({ allowedOrigins: ['https://app.example'], publicUrl: 'https://consoles.example/base' });
    expect(policy.allows(req('https://app.example'))).toBe(true);
    expect(policy.allows(req('https://consoles.example'))).toBe(true);
    expect(policy.allows(req('https://app.example.evil'))).toBe(false);
    expect(new OriginPolicy({ allowedOrigins: ['*'] }).allows(req('https://anything.example'))).toBe(true);
  });
});

describe('auth config', () => {
  it('is optional on loopback but required on other addresses, with a message telling the operator to choose', () => {
    expect(issuesOf({})).toEqual([]);
    const publicUrl = 'https://gw.example';
    expect(issuesOf({ server: { host: '0.0.0.0', publicUrl } })).toEqual([expect.stringMatching(/^auth: required when server.host \(0.0.0.0\) is not a loopback address: set auth.mode/)]);
    expect(issuesOf({ server: { host: '0.0.0.0', publicUrl }, auth: { mode: 'none' } })).toEqual([]);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('127.0.0.2')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });

  it('names each bad key and never echoes a secret', () => {
    const secret = 'short-secret';
    const issues = [
      ...issuesOf({ auth: { mode: 'apiKey' } }),
      ...issuesOf({ auth: { mode: 'apiKey', apiKeys: [{ name: 'a', hash: 'plain-key-value' }] } }),
      ...issuesOf({ auth: { mode: 'apiKey', apiKeys: [{ name: 'a', hash: HASH, providers: ['nope'] }] } }),
      ...issuesOf({ auth: { mode: 'jwt', jwt: { secret, issuer: 'i', audience: 'a' } } }),
      ...issuesOf({ auth: { mode: 'jwt', jwt: { issuer: 'i', audience: 'a' } } }),
      ...issuesOf({ auth: { mode: 'jwt', jwt: { jwksUrl: 'http://idp.example/jwks', issuer: 'i', audience: 'a' } } }),
      ...issuesOf({ auth: { mode: 'none', apiKeys: [{ name: 'a', hash: HASH }] } }),
      ...issuesOf({ auth: { mode: 'sometimes' } }),
      ...issuesOf({ server: { allowedOrigins: ['https://app.example/path'] } }),
    ];
    expect(issues).toEqual([
      expect.stringMatching(/^auth.apiKeys: mode apiKey needs at least one key/),
      expect.stringMatching(/^auth.apiKeys.0.hash: must be sha256:/),
      'auth.apiKeys.0.providers.0: no provider named "nope"',
      expect.stringMatching(/^auth.jwt.secret: must be at least 32 characters/),
      expect.stringMatching(/^auth.jwt: needs exactly one of `secret`/),
      expect.stringMatching(/^auth.jwt.jwksUrl: must be an https:\/\/ URL/),
      expect.stringMatching(/^auth.apiKeys: keys are configured but mode none/),
      expect.stringMatching(/^auth.mode: must be one of none, apiKey, jwt, apiKey\+jwt/),
      expect.stringMatching(/^server.allowedOrigins.0: must be an origin/),
    ]);
    expect(issues.join('\n')).not.toContain(secret);
    expect(issues.join('\n')).not.toContain('plain-key-value');
  });

  it('takes the JWT secret from CONSOLE_GATEWAY_AUTH_JWT_SECRET', () => {
    const raw = { providers: PROVIDERS, auth: { mode: 'jwt', jwt: { issuer: 'i', audience: 'a' } } };
    const config = validateConfig(applyEnvOverrides(raw, { CONSOLE_GATEWAY_AUTH_JWT_SECRET: 's'.repeat(32) }));
    expect(config.auth?.jwt?.secret).toBe('s'.repeat(32));
    expect(config.auth?.jwt?.providersClaim).toBe('providers');
  });
});
