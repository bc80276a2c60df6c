/**
 * CORS on HTTP /graphql: one allowlist (server.allowedOrigins, plus the gateway's own origin) for HTTP
 * and both WebSocket paths. Preflights from listed origins answer 204 with the methods and headers
 * GraphQL clients send; others are refused with 403 ORIGIN_NOT_ALLOWED and no CORS headers, so the
 * browser fails them. Driven over real HTTP with the headers a browser sends (node:http: fetch would
 * not let a test set Origin the way a browser does).
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { newKey } from '../auth/helpers.js';

const APP = 'http://app.example.test:5173';
const OTHER = 'http://evil.example.test';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(base: string, method: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/graphql`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A browser's preflight for a POST carrying these request headers. */
function preflight(base: string, origin: string, requestHeaders = 'content-type'): Promise<RawResponse> {
  return send(base, 'OPTIONS', { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders });
}

const listOf = (v: string | string[] | undefined): string[] => String(v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('CORS on /graphql', () => {
  it('answers a preflight from an allowed origin with the methods and the headers clients send', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [APP] } } });
    const res = await preflight(env.gateway.url, APP, 'content-type,authorization,x-api-key,apollo-require-preflight,x-apollo-operation-name');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(listOf(res.headers.vary)).toContain('origin');
    expect(listOf(res.headers['access-control-allow-methods'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(listOf(res.headers['access-control-allow-headers'])).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'x-api-key', 'apollo-require-preflight', 'x-apollo-operation-name']),
    );
    // Credentials travel in headers, never in cookies.
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('refuses a preflight from an origin not on the list with 403 ORIGIN_NOT_ALLOWED and no CORS headers', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [APP] } } });
    const res = await preflight(env.gateway.url, OTHER);
    expect(res.status).toBe(403);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(JSON.parse(res.body).errors[0].extensions.code).toBe('ORIGIN_NOT_ALLOWED');
    expect(env.logs.text()).toContain('HTTP request refused: origin not allowed');
  });

  it('answers the cross-origin POST itself with the CORS headers and the data', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [APP] } } });
    const res = await send(env.gateway.url, 'POST', { origin: APP, 'content-type': 'application/json' }, JSON.stringify({ query: '{ vms(first: 1) { nodes { id } } }' }));
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(listOf(res.headers['access-control-expose-headers'])).toContain('x-request-id');
    expect(JSON.parse(res.body).data.vms.nodes).toHaveLength(1);
  });

  it("keeps Apollo's CSRF prevention: a simple (unpreflighted) cross-origin request is still refused", async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [APP] } } });
    const res = await send(env.gateway.url, 'POST', { origin: APP, 'content-type': 'text/plain' }, JSON.stringify({ query: '{ __typename }' }));
    expect(res.status).toBe(400);
    expect(res.body).toContain('CSRF');
  });

  it('lets a preflight through without credentials and exposes a refusal of the real request to the page', async () => {
    const alice = newKey();
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [APP] }, auth: { mode: 'apiKey', apiKeys: [{ name: 'alice', hash: alice.hash }] } } });
    expect((await preflight(env.gateway.url, APP, 'content-type,authorization')).status).toBe(204);
    const refused = await send(env.gateway.url, 'POST', { origin: APP, 'content-type': 'application/json' }, JSON.stringify({ query: '{ __typename }' }));
    expect(refused.status).toBe(401);
    // The page can read the 401 and its code instead of seeing an opaque CORS failure.
    expect(refused.headers['access-control-allow-origin']).toBe(APP);
    const ok = await send(env.gateway.url, 'POST', { origin: APP, 'content-type': 'application/json', authorization: `ApiKey ${alice.key}` }, JSON.stringify({ query: '{ __typename }' }));
    expect(JSON.parse(ok.body)).toEqual({ data: { __typename: 'Query' } });
  });

  it('allows the gateway\'s own origin without listing it', async () => {
    env = await startTowerGateway();
    const own = env.gateway.url;
    const res = await preflight(own, own);
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(own);
  });

  it('applies a reloaded server.allowedOrigins to the next preflight', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, allowedOrigins: [APP] } } });
    const current = env.gateway.config();
    await env.gateway.reload(validateConfig({ ...current, server: { ...current.server, allowedOrigins: [OTHER] } }));
    expect((await preflight(env.gateway.url, APP)).status).toBe(403);
    const now = await preflight(env.gateway.url, OTHER);
    expect(now.status).toBe(204);
    expect(now.headers['access-control-allow-origin']).toBe(OTHER);
  });
});
