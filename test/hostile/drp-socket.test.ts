/**
 * A hostile DRP event socket (issue 10): giant frames, floods of events and floods of frames that
 * are not events. A healthy DRP (the simulator) and a healthy CloudTower sit beside it; their
 * subscribers and callers must keep being served.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { startDrpSimulator, type DrpSimulator } from '../../src/simulators/drp/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { collect, commandSeen } from '../helpers/subscriptions.js';
import { startHostileDrp, type DrpAttack, type HostileDrpPeer } from './peers/upstream-drp.js';
import { eventually, heapUsed } from './peers/upstream-http.js';

const MiB = 1024 * 1024;
const TOWER = '{ vms(provider: "tower", first: 5) { nodes { id } } }';

let env: TowerGateway | undefined;
let drp: DrpSimulator | undefined;
let evil: HostileDrpPeer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.dispose();
  await env?.close();
  await drp?.close();
  await evil?.close();
  env = undefined;
  drp = undefined;
  evil = undefined;
  client = undefined;
});

async function setup(attack: DrpAttack): Promise<void> {
  drp = await startDrpSimulator();
  evil = await startHostileDrp(attack);
  env = await startTowerGateway({
    extraProviders: [
      { name: 'good', kind: 'drp', url: drp.url, username: 'rocketskates', password: 'r0cketsk8ts' },
      { name: 'evil', kind: 'drp', url: evil.url, token: 'hostile-peer-token', reconnect: { initialMs: 50, maxMs: 100 }, limits: { maxMessageBytes: 64 * 1024 } },
    ],
  });
  client = createClient({ url: `${env.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
}

/** A subscriber of the healthy DRP receives an event emitted while the attack runs. */
async function healthySubscriberServed(): Promise<void> {
  const registered = commandSeen(drp!, 'register machines.*.*');
  const sub = collect(client!, 'subscription { events(filter: { pattern: "machines.*.*", providers: ["good"] }) { provider key } }');
  await registered;
  drp!.emitObjectEvent({ type: 'machines', action: 'update', key: 'healthy-1', object: { Uuid: 'healthy-1' } });
  await sub.until(1);
  expect(sub.received[0].data.events).toEqual({ provider: 'good', key: 'healthy-1' });
  sub.unsubscribe();
}

async function evilState(): Promise<{ connected: boolean; lastError: string | null } | undefined> {
  const res = await env!.gql<{ upstreams: { name: string; connected: boolean; lastError: string | null }[] }>('{ upstreams { name connected lastError } }');
  return res.data?.upstreams.find((u) => u.name === 'evil');
}

async function metric(bound: string): Promise<number> {
  const text = await (await fetch(`${env!.gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('upstream_bounds_exceeded_total{') && l.includes('provider="evil"') && l.includes(`bound="${bound}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('hostile DRP event socket', () => {
  it('closes on a frame over limits.maxMessageBytes, reports UPSTREAM_RESPONSE_TOO_LARGE and reconnects', async () => {
    const before = heapUsed();
    await setup({ kind: 'giant', bytes: 4 * MiB });
    await eventually(async () => (await evilState())?.lastError?.includes('limits.maxMessageBytes'));
    await eventually(async () => evil!.connections >= 3);
    await healthySubscriberServed();
    expect((await env!.gql(TOWER)).errors).toBeUndefined();
    expect(await metric('message_bytes')).toBeGreaterThanOrEqual(1);
    expect(env!.logs.text()).toContain('UPSTREAM_RESPONSE_TOO_LARGE');
    expect(heapUsed() - before).toBeLessThan(96 * MiB);
  });

  it('drops frames that are not events, counts them, logs once per connection, and stays connected', async () => {
    const before = heapUsed();
    await setup({ kind: 'malformed', count: 5_000 });
    await eventually(async () => (await metric('malformed_message')) >= 5_000);
    await healthySubscriberServed();
    expect((await env!.gql(TOWER)).errors).toBeUndefined();
    expect((await evilState())?.connected).toBe(true);
    expect(evil!.connections).toBe(1);
    expect(env!.logs.text().split('not events').length - 1).toBe(1);
    expect(heapUsed() - before).toBeLessThan(64 * MiB);
  });

  it('absorbs a flood of events without growing memory or starving other callers', async () => {
    const before = heapUsed();
    await setup({ kind: 'flood', count: 50_000 });
    await healthySubscriberServed();
    expect((await env!.gql(TOWER)).errors).toBeUndefined();
    await eventually(async () => (await evilState())?.connected);
    expect(heapUsed() - before).toBeLessThan(96 * MiB);
  });
});
