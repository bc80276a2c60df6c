import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { graphqlPost } from '../helpers/graphql.js';
import { closed, openWs } from '../helpers/ws.js';
import { graphqlWsInit, newKey } from './helpers.js';

let env: TowerGateway | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await env?.close();
  env = undefined;
});

const ops = newKey();
const keyed = (limits: Record<string, unknown> = {}, server: Record<string, unknown> = {}) => ({
  config: { server: { host: '127.0.0.1', port: 0, ...server }, limits, auth: { mode: 'apiKey', apiKeys: [{ name: 'ops', hash: ops.hash }] } },
});
const wsUrl = (t: TowerGateway, path = '/graphql') => `${t.gateway.url.replace('http', 'ws')}${path}`;

function keep<T extends { acked: WebSocket } | object>(r: T): T {
  if ('acked' in r) sockets.push(r.acked as WebSocket);
  return r;
}

describe('graphql-ws connectionParams authentication', () => {
  it('acks a connection with a valid key; closes 4401 without credentials and 4403 with bad ones', async () => {
    env = await startTowerGateway(keyed());
    const url = wsUrl(env);
    expect(keep(await graphqlWsInit(url, { apiKey: ops.key }))).toHaveProperty('acked');
    expect(keep(await graphqlWsInit(url, { authorization: `ApiKey ${ops.key}` }))).toHaveProperty('acked');
    // Non-browser clients may authenticate the upgrade request itself.
    expect(keep(await graphqlWsInit(url, undefined, { 'x-api-key': ops.key }))).toHaveProperty('acked');
    expect(await graphqlWsInit(url, undefined)).toEqual({ closed: 4401 });
    expect(await graphqlWsInit(url, { apiKey: newKey().key })).toEqual({ closed: 4403 });
    expect(await graphqlWsInit(url, { authorization: 'Bearer nope' })).toEqual({ closed: 4403 });
    expect(env.logs.text()).toContain('graphql-ws connection refused');
    expect(env.logs.text()).not.toContain(ops.key);
  });

  it('runs operations as the connection\'s caller', async () => {
    const towerB = newKey();
    env = await startTowerGateway({ config: { auth: { mode: 'apiKey', apiKeys: [{ name: 'nobody', hash: towerB.hash, providers: [] }] } } });
    const r = keep(await graphqlWsInit(wsUrl(env), { apiKey: towerB.key }));
    if (!('acked' in r)) throw new Error('not acked');
    const ws = r.acked;
    const reply = new Promise<any>((resolve) => ws.on('message', (d) => resolve(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ providers { name } }' } }));
    expect(await reply).toMatchObject({ type: 'next', payload: { data: { providers: [] } } });
  });
});

describe('WebSocket connection caps', () => {
  it('closes a caller\'s connection over maxWsConnectionsPerCaller with 4429, and frees the slot on close', async () => {
    env = await startTowerGateway(keyed({ maxWsConnectionsPerCaller: 2 }));
    const url = wsUrl(env);
    const first = keep(await graphqlWsInit(url, { apiKey: ops.key }));
    keep(await graphqlWsInit(url, { apiKey: ops.key }));
    expect(await graphqlWsInit(url, { apiKey: ops.key })).toEqual({ closed: 4429 });
    if (!('acked' in first)) throw new Error('not acked');
    const gone = closed(first.acked);
    first.acked.close(1000);
    await gone;
    // The server sees the close after the client does; wait for its bookkeeping through a round trip on another connection.
    await graphqlPost(env.gateway.url, '{ providers { name } }', { headers: { 'x-api-key': ops.key } });
    expect(keep(await graphqlWsInit(url, { apiKey: ops.key }))).toHaveProperty('acked');
  });

  it('refuses graphql-ws upgrades over maxWsConnections with HTTP 429', async () => {
    env = await startTowerGateway(keyed({ maxWsConnections: 1 }));
    keep(await graphqlWsInit(wsUrl(env), { apiKey: ops.key }));
    expect(await openWs(wsUrl(env), { protocols: ['graphql-transport-ws'] })).toMatchObject({ ok: false, status: 429, body: 'WS_CONNECTIONS_LIMIT\n' });
  });
});

describe('Origin allowlist (cross-site WebSocket hijacking)', () => {
  it('refuses a foreign Origin with 403 on /graphql and /websockify, before any credential is looked at', async () => {
    env = await startTowerGateway(keyed());
    const evil = { origin: 'https://evil.example' };
    expect(await openWs(wsUrl(env), { protocols: ['graphql-transport-ws'], headers: evil })).toMatchObject({ ok: false, status: 403, body: 'ORIGIN_NOT_ALLOWED\n' });
    expect(await openWs(wsUrl(env, '/websockify'), { protocols: ['binary'], headers: evil })).toMatchObject({ ok: false, status: 403, body: 'ORIGIN_NOT_ALLOWED\n' });
    expect(env.logs.text()).toContain('"origin":"https://evil.example"');
  });

  it('allows the same origin, no Origin, and configured origins', async () => {
    env = await startTowerGateway(keyed({}, { allowedOrigins: ['https://app.example'] }));
    const url = wsUrl(env);
    const sameOrigin = env.gateway.url;
    expect(keep(await graphqlWsInit(url, { apiKey: ops.key }, { origin: sameOrigin }))).toHaveProperty('acked');
    expect(keep(await graphqlWsInit(url, { apiKey: ops.key }, { origin: 'https://app.example' }))).toHaveProperty('acked');
    expect(keep(await graphqlWsInit(url, { apiKey: ops.key }))).toHaveProperty('acked');
    // Past the Origin check the console endpoint applies its own rules: no ticket is a 401.
    expect(await openWs(wsUrl(env, '/websockify'), { protocols: ['binary'], headers: { origin: 'https://app.example' } })).toMatchObject({ ok: false, status: 401, body: 'TICKET_MISSING\n' });
    expect(await openWs(url, { protocols: ['graphql-transport-ws'], headers: { origin: 'https://app.example.evil' } })).toMatchObject({ ok: false, status: 403, body: 'ORIGIN_NOT_ALLOWED\n' });
  });
});
