import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { postGraphQL, startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const BOMBS: Record<string, string> = {
  aliased: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: providers { name }`).join(' ')} }`,
  // 12 aliases (under the alias cap) of a wide selection: refused on cost.
  wide: `{ ${Array.from({ length: 12 }, (_, i) => `v${i}: vms(first: 1) { edges { node { id name label status rawStatus vcpu memoryBytes upstreamId cluster { id name } host { id name ip } enterprise { id name } provider { name kind } } } } `).join(' ')} }`,
  huge: `{ providers { ${'name '.repeat(3000)} } }`,
};

/** One operation over graphql-transport-ws by hand; resolves with the first error/next payload. */
async function overWebSocket(url: string, query: string): Promise<{ type: string; payload: any }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'connection_init' }));
  try {
    return await new Promise((resolve) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data));
        if (msg.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
        if (msg.type === 'error' || msg.type === 'next') resolve(msg);
      });
    });
  } finally {
    ws.close();
  }
}

describe('operation limits on HTTP and WebSocket alike', () => {
  it('refuses aliased, wide and huge queries over HTTP and graphql-ws with a code, and serves normal ones', async () => {
    env = await startTowerGateway({ config: { limits: { maxDepth: 5, maxAliases: 15, maxCost: 500, maxTokens: 2000 } } });
    for (const [name, query] of Object.entries(BOMBS)) {
      const http = await postGraphQL<any>(env.gateway.url, query);
      expect(http.errors?.[0]?.extensions?.code, `HTTP ${name}`).toMatch(/GRAPHQL_(VALIDATION|PARSE)_FAILED/);
      expect(http.data ?? null).toBeNull();
      const ws = await overWebSocket(env.gateway.url, query);
      expect(ws.type, `WS ${name}`).toBe('error');
      expect(ws.payload[0].extensions.code, `WS ${name}`).toMatch(/GRAPHQL_(VALIDATION|PARSE)_FAILED/);
    }
    const ok = await overWebSocket(env.gateway.url, '{ providers { name } }');
    expect(ok).toMatchObject({ type: 'next', payload: { data: { providers: [{ name: 'tower' }] } } });
  });

  it('refuses queries deeper than maxDepth on both transports', async () => {
    env = await startTowerGateway({ config: { limits: { maxDepth: 3 } } });
    const query = '{ vms { edges { node { provider { name } } } } }';
    expect((await postGraphQL<any>(env.gateway.url, query)).errors?.[0]?.message).toMatch(/depth/i);
    expect((await overWebSocket(env.gateway.url, query)).payload[0].message).toMatch(/depth/i);
    expect((await postGraphQL<any>(env.gateway.url, '{ vms { nodes { id } } }')).errors).toBeUndefined();
  });

  it('keeps introspection off over WebSocket too when configured off', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, introspection: false } } });
    const http: any = await postGraphQL<any>(env.gateway.url, '{ __schema { queryType { name } } }');
    expect(http.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const ws = await overWebSocket(env.gateway.url, '{ __schema { queryType { name } } }');
    expect(ws.type).toBe('error');
  });

  it('caps operations per graphql-ws connection', async () => {
    env = await startTowerGateway({ config: { limits: { maxSubscriptionsPerConnection: 2 } } });
    const ws = new WebSocket(`${env.gateway.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init' }));
    const errors: any[] = [];
    await new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data));
        if (msg.type === 'connection_ack') {
          for (const id of ['1', '2', '3']) ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { events { id } }' } }));
        }
        if (msg.type === 'error') {
          errors.push(msg);
          resolve();
        }
      });
    });
    expect(errors).toEqual([{ id: '3', type: 'error', payload: [expect.objectContaining({ extensions: { code: 'RATE_LIMITED' } })] }]);
    ws.close();
  });

  it('closes a graphql-ws socket that never sends connection_init', async () => {
    env = await startTowerGateway({ config: { limits: { wsConnectionInitTimeoutMs: 200 } } });
    const ws = new WebSocket(`${env.gateway.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    expect(code).toBe(4408);
  });
});
