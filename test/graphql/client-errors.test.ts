import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SUBSCRIPTION_OVER_HTTP_MESSAGE } from '../../src/graphql/http-operations.js';
import { graphqlPost } from '../helpers/graphql.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function overWebSocket(url: string, query: string, variables?: Record<string, unknown>): Promise<{ type: string; payload: any }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'connection_init' }));
  try {
    return await new Promise((resolve) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data));
        if (msg.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        if (msg.type === 'error' || msg.type === 'next') resolve(msg);
      });
    });
  } finally {
    ws.close();
  }
}

const TYPO = '{ vms { nodez { id } } }';
const BAD_ENUM_VARIABLE = ['query($m: ConsoleMode) { consoleUrl(vmId: "tower:x", mode: $m) }', { m: 'GATEWAYY' }] as const;
const BAD_ENUM_LITERAL = '{ consoleUrl(vmId: "tower:x", mode: GATEWAYY) }';

function messages(body: any): string {
  return (body.errors ?? []).map((e: any) => e.message).join('\n');
}

describe('errors for clients', () => {
  it('hides "Did you mean" suggestions on HTTP and graphql-ws when introspection is off', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, introspection: false } } });
    const url = env.gateway.url;
    const typo = await graphqlPost(url, TYPO);
    expect(typo.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(messages(typo.body)).toContain('Cannot query field "nodez" on type "VmConnection".');
    const variable = await graphqlPost(url, BAD_ENUM_VARIABLE[0], { variables: BAD_ENUM_VARIABLE[1] });
    expect(variable.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const literal = await graphqlPost(url, BAD_ENUM_LITERAL);
    const ws = [await overWebSocket(url, TYPO), await overWebSocket(url, BAD_ENUM_LITERAL), await overWebSocket(url, ...BAD_ENUM_VARIABLE)];
    const all = [messages(typo.body), messages(variable.body), messages(literal.body), ...ws.map((m) => JSON.stringify(m.payload))].join('\n');
    expect(all).toContain('nodez');
    expect(all).toContain('GATEWAYY');
    expect(all).not.toMatch(/did you mean/i);
    expect(all).not.toContain('"nodes"');
  });

  it('keeps the suggestions when introspection is on (the schema is public anyway)', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, introspection: true } } });
    expect(messages((await graphqlPost(env.gateway.url, TYPO)).body)).toContain('Did you mean "nodes"?');
  });

  it("refuses introspection naming the gateway's own setting, on both transports", async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, introspection: false } } });
    for (const q of ['{ __schema { queryType { name } } }', '{ __type(name: "Vm") { name } }']) {
      const http = await graphqlPost(env.gateway.url, q);
      expect(http.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(http.body.errors?.[0]?.message).toContain('server.introspection');
      expect(messages(http.body)).not.toMatch(/ApolloServer|introspection: true/);
      const ws = await overWebSocket(env.gateway.url, q);
      expect(ws.type).toBe('error');
      expect(ws.payload[0].message).toContain('server.introspection');
    }
    // __typename is not introspection: clients (Apollo Client's cache) add it everywhere.
    expect((await graphqlPost(env.gateway.url, '{ __typename providers { __typename name } }')).body.errors).toBeUndefined();
  });

  it('answers parse, validation and operation-type mistakes with their code and a clear message, logged below error level', async () => {
    env = await startTowerGateway();
    const url = env.gateway.url;
    const parse = await graphqlPost(url, '{ vms { nodes { id }');
    expect(parse.status).toBe(400);
    expect(parse.body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^Syntax Error: Expected Name, found <EOF>\.$/), extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    const validation = await graphqlPost(url, 'mutation { x }');
    expect(validation.status).toBe(400);
    expect(validation.body.errors?.[0]).toMatchObject({ message: 'Cannot query field "x" on type "Mutation".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    const subscriptionOverHttp = await graphqlPost(url, 'subscription { events { id } }');
    expect(subscriptionOverHttp.status).toBe(400);
    expect(subscriptionOverHttp.body.errors?.[0]).toMatchObject({ message: SUBSCRIPTION_OVER_HTTP_MESSAGE, extensions: { code: 'BAD_REQUEST' } });
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query A { providers { name } }', operationName: 'B' }) });
    const unknownOperation = { status: res.status, body: (await res.json()) as any };
    expect(unknownOperation.body.errors?.[0]).toMatchObject({ message: 'Unknown operation named "B".', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
    for (const r of [parse, validation, subscriptionOverHttp, unknownOperation]) expect(JSON.stringify(r.body)).not.toMatch(/stacktrace|at .*\.js:\d+/);
    // Observable end of the requests: each was answered above; nothing at error level (pino 50) or above.
    expect(env.logs.records().filter((r) => (r.level as number) >= 50)).toEqual([]);
  });
});
