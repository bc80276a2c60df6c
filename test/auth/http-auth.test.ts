import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { graphqlPost } from '../helpers/graphql.js';
import { AUDIENCE, ISSUER, JWT_SECRET, es256Issuer, hsToken, newKey } from './helpers.js';

let env: TowerGateway | undefined;
let jwksServer: Server | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
  await new Promise((resolve) => (jwksServer ? jwksServer.close(resolve) : resolve(undefined)));
  jwksServer = undefined;
});

const QUERY = '{ vms(first: 1) { nodes { id } } }';
const jwtAuth = (jwt: Record<string, unknown>) => ({ mode: 'jwt', jwt: { issuer: ISSUER, audience: AUDIENCE, ...jwt } });

describe('API keys on POST /graphql', () => {
  it('accepts a configured key (ApiKey, x-api-key, or Bearer) and refuses others with 401 UNAUTHENTICATED', async () => {
    const ops = newKey();
    env = await startTowerGateway({ config: { auth: { mode: 'apiKey', apiKeys: [{ name: 'ops', hash: ops.hash }] } } });
    const url = env.gateway.url;
    const accepted: Record<string, string>[] = [{ authorization: `ApiKey ${ops.key}` }, { 'x-api-key': ops.key }, { authorization: `Bearer ${ops.key}` }];
    for (const headers of accepted) {
      const ok = await graphqlPost(url, QUERY, { headers: headers });
      expect(ok.status).toBe(200);
      expect(ok.body.errors).toBeUndefined();
      expect(ok.body.data?.vms.nodes).toHaveLength(1);
    }
    for (const [headers, reason] of [
      [{}, 'CREDENTIALS_MISSING'],
      [{ authorization: `ApiKey ${newKey().key}` }, 'API_KEY_UNKNOWN'],
      [{ authorization: 'Basic b3BzOnBhc3N3b3Jk' }, 'CREDENTIALS_UNSUPPORTED'],
    ] as const) {
      const refused = await graphqlPost(url, QUERY, { headers: headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('ApiKey realm="console-gateway"');
      expect(refused.body.data).toBeUndefined();
      expect(refused.body.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED', reason }) })]);
    }
    // The key never reaches a log line, only its name.
    expect(env.logs.text()).not.toContain(ops.key);
  });

  it('leaves health endpoints open', async () => {
    env = await startTowerGateway({ config: { auth: { mode: 'apiKey', apiKeys: [{ name: 'ops', hash: newKey().hash }] } } });
    expect((await fetch(`${env.gateway.url}/healthz`)).status).toBe(200);
  });
});

describe('JWT bearer tokens', () => {
  it('HS256: accepts a valid token; refuses expired, wrong audience, wrong issuer, wrong secret', async () => {
    env = await startTowerGateway({ config: { auth: jwtAuth({ secret: JWT_SECRET }) } });
    const url = env.gateway.url;
    const ok = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${await hsToken({ sub: 'alice', providers: ['tower'] })}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.data?.vms.nodes).toHaveLength(1);

    const past = Math.floor(Date.now() / 1000) - 3600;
    const cases: [string, string][] = [
      [await hsToken({ sub: 'alice', exp: past, iat: past - 60 }), 'TOKEN_EXPIRED'],
      [await hsToken({ sub: 'alice' }, { audience: 'someone-else' }), 'TOKEN_CLAIM_INVALID'],
      [await hsToken({ sub: 'alice' }, { issuer: 'https://evil.test/' }), 'TOKEN_CLAIM_INVALID'],
      [await hsToken({ sub: 'alice' }, { secret: 'another-secret-of-sufficient-length-42' }), 'TOKEN_SIGNATURE'],
      [await hsToken({}), 'TOKEN_CLAIM_MISSING'],
      ['not-a-jwt', 'TOKEN_MALFORMED'],
    ];
    for (const [token, reason] of cases) {
      const refused = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${token}` } });
      expect(refused.status, reason).toBe(401);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason });
    }
    const wrongAud = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${cases[1]![0]}` } });
    expect(wrongAud.body.errors?.[0]?.message).toBe('token audience is not accepted');
    const wrongIss = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${cases[2]![0]}` } });
    expect(wrongIss.body.errors?.[0]?.message).toBe('token issuer is not accepted');
  });

  it('JWKS from a file: accepts a token signed by a key in the set, refuses one signed by another key and HS256 tokens', async () => {
    const idp = await es256Issuer('k1');
    const stranger = await es256Issuer('k1');
    const dir = mkdtempSync(join(tmpdir(), 'cg-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify(idp.jwks));
    env = await startTowerGateway({ config: { auth: jwtAuth({ jwksFile: file }) } });
    const url = env.gateway.url;
    const ok = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${await idp.sign({ sub: 'svc-1', providers: '*' })}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.data?.vms.nodes).toHaveLength(1);
    const forged = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${await stranger.sign({ sub: 'svc-1', providers: '*' })}` } });
    expect(forged.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_SIGNATURE' });
    // Algorithm confusion: an HS256 token is never checked against a JWKS.
    const hs = await graphqlPost(url, QUERY, { headers: { authorization: `Bearer ${await hsToken({ sub: 'svc-1' })}` } });
    expect(hs.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_ALGORITHM' });
  });

  it('JWKS from a URL: fetches the key set and verifies against it', async () => {
    const idp = await es256Issuer('k2');
    let fetches = 0;
    jwksServer = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(idp.jwks));
    });
    await new Promise<void>((resolve) => jwksServer!.listen(0, '127.0.0.1', resolve));
    const port = (jwksServer.address() as AddressInfo).port;
    env = await startTowerGateway({ config: { auth: jwtAuth({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }) } });
    const token = await idp.sign({ sub: 'svc-2', providers: ['tower'] });
    expect((await graphqlPost(env.gateway.url, QUERY, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await graphqlPost(env.gateway.url, QUERY, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Cached: one fetch for both requests.
    expect(fetches).toBe(1);
  });

  it('refuses to start with a JWKS file that is not a key set, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, '{"not":"a key set"}');
    await expect(startTowerGateway({ config: { auth: jwtAuth({ jwksFile: file }) } })).rejects.toMatchObject({
      name: 'ConfigError',
      issues: [expect.stringMatching(/^auth.jwt.jwksFile: ".*jwks.json" is not a JSON Web Key Set/)],
    });
  });

  it('apiKey+jwt accepts both kinds of credential', async () => {
    const ops = newKey();
    env = await startTowerGateway({ config: { auth: { mode: 'apiKey+jwt', apiKeys: [{ name: 'ops', hash: ops.hash }], jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } } } });
    expect((await graphqlPost(env.gateway.url, QUERY, { headers: { authorization: `Bearer ${ops.key}` } })).status).toBe(200);
    expect((await graphqlPost(env.gateway.url, QUERY, { headers: { authorization: `Bearer ${await hsToken({ sub: 'a', providers: ['tower'] })}` } })).status).toBe(200);
    expect((await graphqlPost(env.gateway.url, QUERY)).status).toBe(401);
  });
});

describe('auth.mode none', () => {
  it('logs loudly when anonymous callers are accepted on a non-loopback address', async () => {
    const { GatewayAccess } = await import('../../src/auth/access.js');
    const { validateConfig } = await import('../../src/config.js');
    const { captureLogger } = await import('../helpers/log-capture.js');
    const logs = captureLogger();
    const providers = [{ name: 'tower', kind: 'cloudtower', url: 'https://tower.example', token: 't' }];
    new GatewayAccess(validateConfig({ server: { host: '0.0.0.0', publicUrl: 'https://gw.example' }, auth: { mode: 'none' }, providers }), { logger: logs.logger });
    expect(logs.text()).toMatch(/"level":40.*AUTHENTICATION IS OFF and the gateway listens on 0.0.0.0/);
    const quiet = captureLogger();
    new GatewayAccess(validateConfig({ auth: { mode: 'none' }, providers }), { logger: quiet.logger });
    expect(quiet.text()).not.toContain('AUTHENTICATION IS OFF');
  });
});
