/**
 * A hostile Abiquo (issue 10, failure 1): an Outbound API stream with one endless line, one endless
 * event, or nothing at all, and an XML API answering with an entity bomb. A healthy CloudTower sits
 * beside it; the hostile provider gets small caps so the attacks stay cheap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import {
  endlessSseEvent,
  endlessSseLine,
  eventually,
  heapUsed,
  json,
  routes,
  silentSse,
  startHostileHttp,
  type HostileHandler,
  type HostileHttpPeer,
} from './peers/upstream-http.js';

const MiB = 1024 * 1024;
const TOWER = '{ vms(provider: "tower", first: 5) { nodes { id } } }';
const UPSTREAMS = '{ upstreams { name connected lastError } }';

let env: TowerGateway | undefined;
let peer: HostileHttpPeer | undefined;
afterEach(async () => {
  await env?.close();
  await peer?.close();
  env = undefined;
  peer = undefined;
});

const emptyEnterprises = json(200, { collection: [], links: [] });

async function setup(stream: HostileHandler, provider: Record<string, unknown> = {}, api: Record<string, HostileHandler> = {}): Promise<{ env: TowerGateway; peer: HostileHttpPeer }> {
  peer = await startHostileHttp(routes({ '/api/admin/enterprises': emptyEnterprises, '/m/stream': stream, ...api }));
  env = await startTowerGateway({
    extraProviders: [
      {
        name: 'evil',
        kind: 'abiquo',
        url: peer.url,
        username: 'gateway',
        password: 'hostile-peer-password',
        timeouts: { connectMs: 1_000, requestMs: 1_000 },
        events: { maxLineBytes: 64 * 1024, maxEventBytes: 256 * 1024 },
        backoff: { initialMs: 100, maxMs: 200 },
        resyncIntervalMs: 0,
        ...provider,
      },
    ],
  });
  return { env, peer };
}

async function lastErrorOfEvil(): Promise<string | null | undefined> {
  const res = await env!.gql<{ upstreams: { name: string; lastError: string | null }[] }>(UPSTREAMS);
  return res.data?.upstreams.find((u) => u.name === 'evil')?.lastError;
}

async function metric(bound: string): Promise<number> {
  const text = await (await fetch(`${env!.gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('upstream_bounds_exceeded_total{') && l.includes('provider="evil"') && l.includes(`bound="${bound}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('hostile Abiquo event stream', () => {
  it('drops a stream whose line never ends at events.maxLineBytes, reconnects, and reports UPSTREAM_RESPONSE_TOO_LARGE', async () => {
    const total = 128 * MiB;
    const before = heapUsed();
    const { env, peer } = await setup(endlessSseLine(total));
    await eventually(async () => (await lastErrorOfEvil()) === 'UPSTREAM_RESPONSE_TOO_LARGE');
    // Reconnected with backoff: the stream was opened again after the drop.
    await eventually(async () => (peer.requests.get('/m/stream') ?? 0) >= 2);
    expect((await env.gql(TOWER)).errors).toBeUndefined();
    expect(await metric('sse_line_bytes')).toBeGreaterThanOrEqual(1);
    expect(env.logs.text()).toContain('UPSTREAM_RESPONSE_TOO_LARGE');
    expect(peer.sent).toBeLessThan((peer.requests.get('/m/stream') ?? 1) * total);
    expect(heapUsed() - before).toBeLessThan(96 * MiB);
  });

  it('drops a stream whose event never ends (endless data lines) at events.maxEventBytes', async () => {
    const before = heapUsed();
    const { env, peer } = await setup(endlessSseEvent(64 * MiB));
    await eventually(async () => (await lastErrorOfEvil()) === 'UPSTREAM_RESPONSE_TOO_LARGE');
    await eventually(async () => (peer.requests.get('/m/stream') ?? 0) >= 2);
    expect((await env.gql(TOWER)).errors).toBeUndefined();
    expect(await metric('sse_event_bytes')).toBeGreaterThanOrEqual(1);
    expect(heapUsed() - before).toBeLessThan(96 * MiB);
  });

  it('drops a silent stream at events.idleTimeoutMs when configured, as UPSTREAM_TIMEOUT', async () => {
    const before = heapUsed();
    const { env, peer } = await setup(silentSse(), { events: { idleTimeoutMs: 200 } });
    await eventually(async () => (await lastErrorOfEvil()) === 'UPSTREAM_TIMEOUT');
    await eventually(async () => (peer.requests.get('/m/stream') ?? 0) >= 2);
    expect((await env.gql(TOWER)).errors).toBeUndefined();
    expect(await metric('stream_idle')).toBeGreaterThanOrEqual(1);
    expect(heapUsed() - before).toBeLessThan(64 * MiB);
  });
});

describe('hostile Abiquo XML', () => {
  it('refuses an entity bomb (billion laughs) as UPSTREAM_ERROR without expanding it', async () => {
    const lol = ['<!ENTITY lol0 "lollollollollollollollollollol">'];
    for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
    const bomb = `<?xml version="1.0"?><!DOCTYPE enterprises [${lol.join('')}]><enterprises><enterprise><id>1</id><name>&lol9;</name></enterprise></enterprises>`;
    const xml: HostileHandler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.abiquo.enterprises+xml; version=4.7' });
      res.end(bomb);
    };
    const before = heapUsed();
    const { env } = await setup(silentSse(), { format: 'xml', events: { enabled: false } }, { '/api/admin/enterprises': xml });
    const evil = await env.gql('{ vms(provider: "evil", first: 5) { nodes { id } } }');
    expect(evil.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(evil.errors?.[0]?.message).toContain('DOCTYPE');
    expect((await env.gql(TOWER)).errors).toBeUndefined();
    expect(heapUsed() - before).toBeLessThan(64 * MiB);
  });
});
