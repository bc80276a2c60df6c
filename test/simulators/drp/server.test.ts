import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startDrpSimulator, type DrpEvent, type DrpSimulator, type DrpSimulatorOptions } from '../../../src/simulators/drp/index.js';
import { waitFor } from '../../helpers/wait.js';
import { mustRefuse } from '../../helpers/ws.js';
import { RawClient, basic } from '../../upstreams/drp/helpers.js';

const USER = 'rocketskates';
const PASSWORD = 'r0cketsk8ts';

let sim: DrpSimulator | null = null;
const clients: RawClient[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of agents.splice(0)) await a.close();
  await sim?.close();
  sim = null;
});

async function start(options: DrpSimulatorOptions = {}): Promise<DrpSimulator> {
  sim = await startDrpSimulator(options);
  return sim;
}

function wsUrl(s: DrpSimulator, query = ''): string {
  return `${s.url.replace(/^http/, 'ws')}/api/v3/ws${query}`;
}

async function open(s: DrpSimulator, query = '', headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await RawClient.open(wsUrl(s, query), { headers });
  clients.push(client);
  return client;
}

async function fetchToken(s: DrpSimulator, ttl = 60): Promise<string> {
  const res = await request(`${s.url}/api/v3/users/${USER}/token?ttl=${ttl}`, { headers: { authorization: basic(USER, PASSWORD) } });
  expect(res.statusCode).toBe(200);
  const body = (await res.body.json()) as { Token: string; Info: unknown };
  expect(typeof body.Token).toBe('string');
  expect(body.Info).toBeTypeOf('object');
  return body.Token;
}

async function register(client: RawClient, filter: string): Promise<void> {
  client.send(`register ${filter}`);
  expect(await client.next()).toMatchObject({ Type: 'websocket', Action: 'register', Key: filter });
}

describe('DRP simulator: authentication', () => {
  it.each([
    ['Basic header', async (s: DrpSimulator) => open(s, '', { Authorization: basic(USER, PASSWORD) })],
    ['Bearer header', async (s: DrpSimulator) => open(s, '', { Authorization: `Bearer ${await fetchToken(s)}` })],
    ['?token=user:pass', async (s: DrpSimulator) => open(s, `?token=${encodeURIComponent(`${USER}:${PASSWORD}`)}`)],
    ['?token=<token>', async (s: DrpSimulator) => open(s, `?token=${encodeURIComponent(await fetchToken(s))}`)],
  ])('accepts %s', async (_name, connect) => {
    const s = await start();
    const client = await connect(s);
    await register(client, '*.*.*');
    expect(s.connections()).toEqual([expect.objectContaining({ user: USER, registrations: ['*.*.*'] })]);
  });

  it('answers no credentials with 401 and WWW-Authenticate: dr-provision', async () => {
    const s = await start();
    const refused = await mustRefuse(wsUrl(s), { protocols: [] });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('dr-provision');
    expect(s.connections()).toHaveLength(0);
  });

  it.each([
    ['a wrong password', { headers: { Authorization: basic(USER, 'nope') } }, ''],
    ['an unknown token', { headers: { Authorization: 'Bearer not-a-token' } }, ''],
    ['a wrong ?token=user:pass', {}, '?token=rocketskates:nope'],
    ['an unknown ?token=', {}, '?token=abc'],
  ])('answers %s with 403 and a DRP error body', async (_name, options, query) => {
    const s = await start();
    const refused = await mustRefuse(wsUrl(s, query), { protocols: [], ...options });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ Type: 'AUTH', Code: 403, Messages: [expect.any(String)] });
  });

  it('expires tokens after their ttl on the injected clock', async () => {
    let now = Date.UTC(2024, 0, 1);
    const s = await start({ now: () => now });
    const token = await fetchToken(s, 30);
    now += 29_000;
    (await open(s, '', { Authorization: `Bearer ${token}` })).close();
    now += 1_000;
    expect((await mustRefuse(wsUrl(s), { protocols: [], headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);
  });

  it('issues tokens only for the authenticated user and validates ttl', async () => {
    const s = await start({ users: { [USER]: PASSWORD, other: 'pw' } });
    const other = await request(`${s.url}/api/v3/users/other/token?ttl=10`, { headers: { authorization: basic(USER, PASSWORD) } });
    expect(other.statusCode).toBe(403);
    await other.body.dump();
    const badTtl = await request(`${s.url}/api/v3/users/${USER}/token?ttl=-1`, { headers: { authorization: basic(USER, PASSWORD) } });
    expect(badTtl.statusCode).toBe(400);
    await badTtl.body.dump();
    const anonymous = await request(`${s.url}/api/v3/users/${USER}/token`);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('dr-provision');
    await anonymous.body.dump();
    expect(s.tokensIssued).toBe(0);
  });
});

describe('DRP simulator: commands and events', () => {
  it('acknowledges register and deregister, and stays silent on a duplicate register', async () => {
    const s = await start();
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    const outcomes: string[] = [];
    s.on('command', (c: { outcome: string }) => outcomes.push(c.outcome));
    await register(client, 'machines.*.*');
    client.send('register machines.*.*');
    // Acks come in order, so the next message being the ack for profiles proves the duplicate got none.
    await register(client, 'profiles.*.*');
    expect(s.connections()[0]?.registrations).toEqual(['machines.*.*', 'profiles.*.*']);
    client.send('deregister machines.*.*');
    expect(await client.next()).toEqual({
      Time: expect.any(String),
      Type: 'websocket',
      Action: 'deregister',
      Key: 'machines.*.*',
      Principal: `user:${USER}`,
      Object: null,
      Original: null,
    });
    expect(s.totalRegistrations()).toBe(1);
    expect(outcomes).toEqual(['registered', 'duplicate', 'registered', 'deregistered']);
  });

  it('ignores unknown commands and malformed filters', async () => {
    const s = await start();
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    const outcomes: string[] = [];
    s.on('command', (c: { outcome: string }) => outcomes.push(c.outcome));
    client.send('hello world');
    client.send('subscribe *.*.*');
    client.send('register machines');
    client.send('register');
    await register(client, 'params.*.*');
    expect(outcomes).toEqual(['ignored', 'ignored', 'ignored', 'ignored', 'registered']);
    expect(s.totalRegistrations()).toBe(1);
  });

  it('matches each part as * or an exact value, one copy per socket', async () => {
    const s = await start();
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    await register(client, 'machines.*.m1');
    await register(client, '*.save.*');
    await register(client, 'leases.create.10.0.0.5');
    const sent: Array<[string, string, string]> = [
      ['machines', 'create', 'm1'], // matches machines.*.m1
      ['machines', 'create', 'm2'],
      ['profiles', 'create', 'm1'],
      ['machines', 'save', 'm1'], // matches two filters: delivered once
      ['profiles', 'save', 'global'], // *.save.*
      ['leases', 'create', '10.0.0.5'], // key with dots
      ['leases', 'create', '10.0.0.6'],
    ];
    for (const [Type, Action, Key] of sent) s.publish({ Type, Action, Key });
    s.publish({ Type: 'machines', Action: 'delete', Key: 'm1' }); // sentinel
    const received: string[] = [];
    for (;;) {
      const e = await client.next<DrpEvent>();
      received.push(`${e.Type}.${e.Action}.${e.Key}`);
      if (e.Action === 'delete') break;
    }
    expect(received).toEqual([
      'machines.create.m1',
      'machines.save.m1',
      'profiles.save.global',
      'leases.create.10.0.0.5',
      'machines.delete.m1',
    ]);
  });

  it('closes the socket with 1009 on an inbound message over 512 bytes', async () => {
    const s = await start();
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    const fits = `register m.s.${'k'.repeat(512 - 'register m.s.'.length)}`;
    expect(Buffer.byteLength(fits)).toBe(512);
    client.send(fits);
    expect(await client.next()).toMatchObject({ Action: 'register' });
    client.send(`${fits}k`);
    expect((await client.closed).code).toBe(1009);
  });

  it('publishes an event POSTed to /api/v3/events (204)', async () => {
    const s = await start();
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    await register(client, 'machines.*.*');
    const res = await request(`${s.url}/api/v3/events`, {
      method: 'POST',
      headers: { authorization: basic(USER, PASSWORD), 'content-type': 'application/json' },
      body: JSON.stringify({ Type: 'machines', Action: 'update', Key: 'm9', Object: { Uuid: 'm9' }, Original: { Uuid: 'm9' } }),
    });
    expect(res.statusCode).toBe(204);
    await res.body.dump();
    expect(await client.next()).toEqual({
      Time: expect.any(String),
      Type: 'machines',
      Action: 'update',
      Key: 'm9',
      Principal: `user:${USER}`,
      Object: { Uuid: 'm9' },
      Original: { Uuid: 'm9' },
    });
    const bad = await request(`${s.url}/api/v3/events`, { method: 'POST', headers: { authorization: basic(USER, PASSWORD) }, body: '{"Type":1}' });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    const anonymous = await request(`${s.url}/api/v3/events`, { method: 'POST', body: '{}' });
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.dump();
  });

  it('sends PascalCase events with every field, Original only for update/save', async () => {
    const s = await start();
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    await register(client, '*.*.*');
    s.emitObjectEvent({ type: 'machines', action: 'create', key: 'u1', object: { Uuid: 'u1' }, original: { Uuid: 'ignored' } });
    s.emitObjectEvent({ type: 'machines', action: 'save', key: 'u1', object: { Uuid: 'u1', Stage: 'b' }, original: { Uuid: 'u1', Stage: 'a' } });
    const created = await client.next();
    expect(Object.keys(created)).toEqual(['Time', 'Type', 'Action', 'Key', 'Principal', 'Object', 'Original']);
    expect(created.Original).toBeNull();
    expect((await client.next()).Original).toEqual({ Uuid: 'u1', Stage: 'a' });
  });

  it('generates plausible demo events on its own', async () => {
    const s = await start({ autoEmitEveryMs: 5 });
    const client = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    await register(client, '*.*.*');
    const seen: DrpEvent[] = [];
    while (seen.length < 12) seen.push(await client.next<DrpEvent>());
    const machine = seen.find((e) => e.Type === 'machines' && e.Action === 'create');
    expect(machine?.Object).toMatchObject({ Uuid: machine?.Key, Name: expect.any(String), Address: expect.any(String), Stage: 'discover', BootEnv: 'sledgehammer', Runnable: true });
    expect(new Set(seen.map((e) => e.Type))).toEqual(new Set(['machines', 'profiles', 'params']));
    for (const e of seen) expect(e.Original === null).toBe(e.Action === 'create' || e.Action === 'delete');
  });

  it('pings clients and drops one that does not answer', async () => {
    const s = await start({ pingIntervalMs: 20, pongTimeoutMs: 200 });
    const answering = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    await new Promise<void>((resolve) => answering.ws.once('ping', () => resolve()));
    const silent = await RawClient.open(wsUrl(s), { autoPong: false, headers: { Authorization: basic(USER, PASSWORD) } });
    clients.push(silent);
    const silentId = s.connections().at(-1)?.id;
    const dropped = await waitFor<number>(s, 'disconnect');
    expect(dropped).toBe(silentId);
    await silent.closed;
    expect(s.connections()).toHaveLength(1);
  });

  it('kickAll drops every socket; a new simulator can take over the port', async () => {
    const s = await start();
    const a = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    const b = await open(s, '', { Authorization: basic(USER, PASSWORD) });
    s.kickAll();
    await Promise.all([a.closed, b.closed]);
    const port = s.port;
    await s.close();
    sim = await startDrpSimulator({ port });
    expect(sim.port).toBe(port);
    await register(await open(sim, '', { Authorization: basic(USER, PASSWORD) }), '*.*.*');
  });

  it('serves HTTPS/WSS with a self-signed certificate', async () => {
    const s = await start({ tls: true });
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = s.certificate?.cert;
    expect(ca).toMatch(/BEGIN CERTIFICATE/);
    const agent = new Agent({ connect: { ca } });
    agents.push(agent);
    const res = await request(`${s.url}/api/v3/users/${USER}/token?ttl=5`, { dispatcher: agent, headers: { authorization: basic(USER, PASSWORD) } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const client = await RawClient.open(wsUrl(s), { ca, headers: { Authorization: basic(USER, PASSWORD) } });
    clients.push(client);
    await register(client, '*.*.*');
    await expect(request(`${s.url}/api/v3/events`, { method: 'POST' })).rejects.toThrow();
  });
});
