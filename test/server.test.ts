import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { validateConfig } from '../src/config.js';
import { Gateway } from '../src/gateway.js';
import { startHttpServer, type RunningHttpServer } from '../src/server.js';
import type { Provider } from '../src/upstreams/types.js';
import { captureLogger } from './helpers/log-capture.js';
import { postGraphQL, startTowerGateway, type TowerGateway } from './helpers/gateway.js';
import { eventually } from './fleet/store-helpers.js';

let env: TowerGateway | undefined;
let bare: RunningHttpServer | undefined;
afterEach(async () => {
  await env?.close();
  await bare?.close();
  env = undefined;
  bare = undefined;
});

function wsClient(baseUrl: string) {
  return createClient({ url: `${baseUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

describe('HTTP server', () => {
  it('answers /healthz, and /readyz ready while an upstream is down, with no upstream detail (upstream health is a metric)', async () => {
    env = await startTowerGateway({
      extraProviders: [{ name: 'down', kind: 'cloudtower', url: 'http://127.0.0.1:1', token: 'x', timeouts: { connectMs: 500, requestMs: 500 } }],
      config: { server: { host: '127.0.0.1', port: 0, upstreamCheckIntervalSeconds: 1 } },
    });
    const health = await fetch(`${env.gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    // Readiness is the process's own: one upstream down must not take the replica out of a Service.
    const ready = await fetch(`${env.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    // The background check reports each upstream on /metrics instead.
    await eventually('upstream_up for both upstreams', async () => {
      const text = await (await fetch(`${env!.gateway.url}/metrics`)).text();
      return text.includes('upstream_up{upstream="down",kind="cloudtower"} 0') && text.includes('upstream_up{upstream="tower",kind="cloudtower"} 1');
    });
  });

  it('completes a query over graphql-ws on the same path and port', async () => {
    env = await startTowerGateway();
    const client = wsClient(env.gateway.url);
    try {
      const result = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe({ query: '{ vms(first: 1) { nodes { provider { name } } } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
      });
      expect(result.data.vms.nodes).toEqual([{ provider: { name: 'tower' } }]);
      const failed = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe({ query: '{ vm(id: "bad") { id } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
      });
      expect(failed.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    } finally {
      await client.dispose();
    }
  });

  it('closes graphql-ws clients with 1001 on shutdown', async () => {
    env = await startTowerGateway();
    const ws = new WebSocket(`${env.gateway.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await new Promise((resolve) => ws.once('message', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await env.gateway.close();
    expect(await closed).toBe(1001);
  });

  it('enforces CSRF prevention and refuses unknown upgrade paths', async () => {
    env = await startTowerGateway();
    const res = await fetch(`${env.gateway.url}/graphql?query=${encodeURIComponent('{ providers { name } }')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/i);
    const ws = new WebSocket(`${env.gateway.url.replace('http', 'ws')}/elsewhere`);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('refuses oversized bodies with 413 and no stack trace', async () => {
    env = await startTowerGateway();
    const res = await fetch(`${env.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ providers { name } } # ${'x'.repeat(200_000)}` }),
    });
    expect(res.status).toBe(413);
    expect(await res.text()).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('masks unexpected errors to INTERNAL_SERVER_ERROR, logging the cause', async () => {
    const boom: Provider = {
      name: 'boom',
      kind: 'cloudtower',
      defaultConsoleMode: 'GATEWAY',
      listVms: async () => {
        throw new Error('database password=hunter2 at /srv/internal.ts:12');
      },
      getVm: async () => null,
      consoleTarget: async () => {
        throw new Error('unused');
      },
      parseUpstreamId: () => undefined,
      checkReady: async () => ({ ok: true }),
      state: async () => ({ connected: true, lastEventAt: null, registrations: [], lastError: null }),
      close: async () => undefined,
    };
    const logs = captureLogger();
    bare = await startHttpServer({ gateway: new Gateway({ all: new Map([['boom', boom]]), providers: new Map([['boom', boom]]) }), logger: logs.logger, host: '127.0.0.1', port: 0, introspection: false, limits: validateConfig({ providers: [{ name: 'x', kind: 'cloudtower', url: 'http://127.0.0.1:1', token: 't' }] }).limits });
    const body: any = await postGraphQL(bare.url, '{ vms { nodes { id } } }');
    expect(body.errors).toEqual([expect.objectContaining({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(logs.text()).toContain('internal error in GraphQL operation');
    const introspection = await postGraphQL(bare.url, '{ __schema { types { name } } }');
    expect(introspection.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
