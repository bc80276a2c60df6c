import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { graphqlPost } from '../helpers/graphql.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';

let env: TowerGateway | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.dispose();
  await env?.close();
  env = undefined;
  client = undefined;
});

async function scrape(): Promise<string> {
  return (await fetch(`${env!.gateway.url}/metrics`)).text();
}

/** The value of one sample, e.g. sample(text, 'http_requests_total', { route: '/graphql' }); 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('request ids', () => {
  it('echoes a sane x-request-id, generates one otherwise, and puts it on the request’s log lines', async () => {
    env = await startTowerGateway();
    const kept = await graphqlPost(env.gateway.url, '{ vms(first: 1) { nodes { id } } }', { headers: { 'x-request-id': 'lb-abc.123' } });
    expect(kept.headers.get('x-request-id')).toBe('lb-abc.123');
    const replaced = await fetch(`${env.gateway.url}/healthz`, { headers: { 'x-request-id': 'has space' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const lines = env.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.find((l) => l.msg === 'http request' && l.reqId === 'lb-abc.123');
    expect(access).toMatchObject({ method: 'POST', path: '/graphql', status: 200 });
    // An error inside the operation is logged by code that never sees the request; it still carries the id.
    await graphqlPost(env.gateway.url, '{ vms(first: 1) { nodes { id } } }', { headers: { 'x-request-id': 'lb-err.1' } });
    env.sim.injectFault({ path: '/v2/api/get-vms', kind: 'error', status: 500 });
    await graphqlPost(env.gateway.url, '{ vms(first: 1) { nodes { id } } }', { headers: { 'x-request-id': 'lb-err.2' } });
    const withId = env.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'lb-err.2');
    expect(withId.length).toBeGreaterThanOrEqual(1);
  });
});

describe('/metrics', () => {
  it('counts HTTP requests and GraphQL operations with their outcome', async () => {
    env = await startTowerGateway();
    await env.gql('query ListSome { vms(first: 2) { nodes { id } } }');
    await env.gql('query ListSome { vms(first: 2) { nodes { id } } }');
    await env.gql('query Broken { nope }');
    await env.gql('query Missing { vm(id: "tower:nosuchvm00000000000000000") { id } }');
    const text = await scrape();
    expect(sample(text, 'http_requests_total', { method: 'POST', route: '/graphql', status: '200' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'http_request_duration_seconds_count', { route: '/graphql' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'graphql_operations_total', { operation: 'ListSome', type: 'query', outcome: 'ok', transport: 'http' })).toBe(2);
    expect(sample(text, 'graphql_operations_total', { operation: 'Broken', outcome: 'rejected' })).toBe(1);
    expect(sample(text, 'graphql_operations_total', { operation: 'Missing', type: 'query' })).toBe(1);
    expect(sample(text, 'graphql_operation_duration_seconds_count', { operation: 'ListSome' })).toBe(2);
  });

  it('bounds operation-name labels: names that are not GraphQL names are reported as "other"', async () => {
    env = await startTowerGateway();
    await fetch(`${env.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ vms(first: 1) { nodes { id } } }', operationName: 'x"} 1\nevil' }),
    });
    const text = await scrape();
    expect(text).not.toContain('evil');
    expect(sample(text, 'graphql_operations_total', { operation: 'other' })).toBe(1);
  });

  it('times upstream calls per provider and counts their errors', async () => {
    env = await startTowerGateway();
    await env.gql('{ vms(first: 2) { nodes { id } } }');
    env.sim.injectFault({ path: '/v2/api/get-vms', kind: 'error', status: 500 });
    await env.gql('{ vms(first: 2) { nodes { id } } }');
    const text = await scrape();
    expect(sample(text, 'upstream_request_duration_seconds_count', { provider: 'tower', operation: 'POST /v2/api/login', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'upstream_request_duration_seconds_count', { provider: 'tower', operation: 'POST /v2/api/get-vms', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'upstream_request_errors_total', { provider: 'tower', operation: 'POST /v2/api/get-vms', kind: 'http_error' })).toBeGreaterThanOrEqual(1);
  });

  it('counts graphql-ws operations, active subscribers and connections, and published events', async () => {
    env = await startTowerGateway();
    client = createClient({ url: `${env.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const bus = env.gateway.gateway.events;
    const subscribed = new Promise<void>((resolve) => {
      const off = bus.onSubscribe(() => (off(), resolve()));
    });
    const received: unknown[] = [];
    let first!: () => void;
    const gotOne = new Promise<void>((resolve) => (first = resolve));
    const unsubscribe = client.subscribe(
      { query: 'subscription Watch { events(filter: { sources: [GATEWAY] }) { type action key } }' },
      { next: (v) => (received.push(v), first()), error: () => {}, complete: () => {} },
    );
    // Wait until the subscriber is on the bus, then make the gateway publish something.
    await subscribed;
    let text = await scrape();
    expect(sample(text, 'event_subscribers_active')).toBe(1);
    expect(sample(text, 'graphql_ws_connections_active')).toBe(1);
    env.gateway.gateway.events.publish({ source: 'GATEWAY', provider: 'gateway', time: new Date().toISOString(), type: 'test', action: 'ping', key: 'k', principal: null, object: null, original: null });
    await gotOne;
    const unsubscribed = new Promise<void>((resolve) => {
      const off = bus.onUnsubscribe(() => (off(), resolve()));
    });
    unsubscribe();
    await unsubscribed;
    await client.dispose();
    client = undefined;
    text = await scrape();
    expect(sample(text, 'events_published_total', { source: 'GATEWAY' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'event_subscribers_active')).toBe(0);
    // graphql-ws reports the completion after the subscriber has left the bus: scrape until it is in.
    for (let i = 0; i < 50 && sample(text, 'graphql_operations_total', { operation: 'Watch' }) === 0; i++) text = await scrape();
    expect(sample(text, 'graphql_operations_total', { operation: 'Watch', type: 'subscription', transport: 'ws' })).toBe(1);
  });

  it('counts minted tickets beside the redeemed and refused ones', async () => {
    env = await startTowerGateway();
    const vmId = (await env.gql<any>('{ vms(first: 1) { nodes { id } } }')).data!.vms.nodes[0].id as string;
    for (let i = 0; i < 3; i++) {
      const res = await env.gql<any>('query($id: ID!) { consoleUrl(vmId: $id, mode: GATEWAY) }', { id: vmId });
      expect(res.errors).toBeUndefined();
    }
    const text = await scrape();
    expect(sample(text, 'console_tickets_minted_total')).toBe(3);
    expect(text).toContain('console_tickets_refused_total');
    expect(text).toContain('console_tickets_redeemed_total');
  });
});
