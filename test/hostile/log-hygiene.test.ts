/**
 * Logs stay the logger's (issue 10, failure 7): graphql-ws used to print a multi-line stack with
 * `console.error` for every oversized frame, past pino and its redaction. Now: the client gets 1009,
 * the gateway logs one line through its logger and counts it, nothing goes to the console. Client
 * mistakes (operations the schema cannot run, validation errors, bad input) are not error-level lines.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { GraphqlWsCloseCode } from '../../src/websocket-codes.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { heapUsed } from './peers/edge-http.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await env?.close();
  env = undefined;
});

/** Opens a graphql-ws socket, acks, sends `frame` and resolves with the close code. */
function sendOnGraphqlWs(url: string, frame: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no close within 10 s'));
    }, 10_000);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') ws.send(frame);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const errorLines = (e: TowerGateway) => e.logs.lines.filter((l) => JSON.parse(l).level >= 50);

describe('log hygiene', () => {
  it('an oversized graphql-ws frame: 1009 to the client, one logger line and a metric, no console.error; others served', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0 }, limits: { maxBodyBytes: 4096 } } });
    const consoleError = vi.spyOn(console, 'error');
    const consoleWarn = vi.spyOn(console, 'warn');
    const big = JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ vms { nodes { id } } } # ${'x'.repeat(64 * 1024)}` } });
    const before = heapUsed();
    const ATTACKS = 10;
    for (let i = 0; i < ATTACKS; i++) {
      const [code, legit] = await Promise.all([sendOnGraphqlWs(env.gateway.url, big), env.gql('{ vms { nodes { id } } }')]);
      expect(code).toBe(GraphqlWsCloseCode.MessageTooBig);
      expect(legit.errors).toBeUndefined();
    }
    expect(heapUsed() - before).toBeLessThan(64 * 1024 * 1024);
    expect(consoleError).not.toHaveBeenCalled();
    expect(consoleWarn).not.toHaveBeenCalled();
    const lines = env.logs.lines.filter((l) => l.includes('graphql-ws socket error'));
    expect(lines).toHaveLength(ATTACKS);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, wsError: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
    expect(lines.join('\n')).not.toContain('stack');
    const metrics = await (await fetch(`${env.gateway.url}/metrics`)).text();
    expect(metrics).toContain(`graphql_ws_socket_errors_total{reason="WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"} ${ATTACKS}`);
  });

  it('client mistakes are answered with a client code and never logged at error level (HTTP and graphql-ws)', async () => {
    env = await startTowerGateway();
    // The schema has a Mutation type (openConsole): an unknown mutation field is a validation error;
    // the operation type the HTTP transport does not run is a subscription.
    expect((await env.gql('mutation { x }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await env.gql('subscription { events { id } }')).errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect((await env.gql('{ nope }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await env.gql('{ vm(id: 5) { id } }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await env.gql('{')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect((await env.gql('query Q($n: ID!) { vm(id: $n) { id } }', { n: { not: 'an id' } })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // The same mistake over graphql-ws: the operation fails, the connection and the gateway go on.
    const wsResult = await new Promise<any>((resolve, reject) => {
      const ws = new WebSocket(`${env!.gateway.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data));
        if (msg.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'mutation { x }' } }));
        else if (msg.type === 'next' || msg.type === 'error') {
          clearTimeout(timer);
          ws.close();
          resolve(msg.payload);
        }
      });
    });
    expect(JSON.stringify(wsResult)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(errorLines(env)).toEqual([]);
    expect((await env.gql('{ vms { nodes { id } } }')).errors).toBeUndefined();
  });
});
