/**
 * The security suite: one scenario through every door of the gateway, with everything it says
 * captured (HTTP bodies, WebSocket messages and close reasons, refusals, log lines), then checked
 * for secrets in places they must not be. Beside it: SSRF attempts through every parameter that
 * could name a host, query bombs, oversized bodies and frames, and a thousand bad tickets.
 */
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capture, type AllowedSecret, type CapturedSocket } from './capture.js';
import { ABIQUO_PASSWORD, DRP_PASSWORD, MAX_FRAME_BYTES, TOWER_PASSWORD, startSecurityEnv, type SecurityEnv } from './env.js';

let env: SecurityEnv;
const capture = new Capture();
/** Every ticket value the gateway handed out. */
const tickets = new Set<string>();

/** A TCP server on another loopback port that nothing should ever connect to. */
let sentinel: Server;
let sentinelPort = 0;
let sentinelConnections = 0;

beforeAll(async () => {
  env = await startSecurityEnv();
  sentinel = createServer((s) => {
    sentinelConnections++;
    s.destroy();
  });
  sentinel.listen(0, '127.0.0.1');
  await once(sentinel, 'listening');
  sentinelPort = (sentinel.address() as { port: number }).port;
});

afterAll(async () => {
  await env?.close();
  await new Promise<void>((resolve) => sentinel.close(() => resolve()));
});

const gql = (where: string, query: string, variables?: Record<string, unknown>, allow: AllowedSecret[] = []) => capture.gql(env.url, where, query, variables, allow);
const wsUrl = (path: string) => `${env.url.replace('http', 'ws')}${path}`;

function ticketOf(url: string): string {
  const t = new URL(url).searchParams.get('ticket');
  if (!t) throw new Error(`no ticket in ${url}`);
  tickets.add(t);
  return t;
}

async function mintConsoleUrl(vmId: string): Promise<string> {
  const res = await gql('consoleUrl GATEWAY', 'query($id: ID!) { consoleUrl(vmId: $id, mode: GATEWAY) }', { id: vmId }, ['ticket']);
  expect(res.errors).toBeUndefined();
  ticketOf(res.data.consoleUrl);
  return res.data.consoleUrl as string;
}

/** The browser's side of RFB up to ServerInit, through the gateway; returns the desktop name. */
async function rfbHandshake(s: CapturedSocket): Promise<string> {
  expect((await s.read(12)).toString('latin1')).toMatch(/^RFB 003\.00[38]\n$/);
  s.ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
  const count = (await s.read(1))[0]!;
  // The gateway answers any VNC password itself: the browser is offered None only.
  expect([...(await s.read(count))]).toEqual([1]);
  s.ws.send(Buffer.from([1]));
  expect((await s.read(4)).readUInt32BE(0)).toBe(0);
  s.ws.send(Buffer.from([1]));
  const init = await s.read(24);
  return (await s.read(init.readUInt32BE(20))).toString('latin1');
}

async function vmIds(provider: string): Promise<string[]> {
  const res = await gql(`vms ${provider}`, 'query($p: String) { vms(provider: $p, first: 50) { nodes { id name status provider { name kind } } } }', { p: provider });
  expect(res.errors).toBeUndefined();
  // VMs that can have a console: a stopped or undeployed VM answers CONSOLE_UNAVAILABLE (issue 13).
  return res.data.vms.nodes.filter((n: { status: string }) => !['STOPPED', 'NOT_DEPLOYED', 'DELETED'].includes(n.status)).map((n: { id: string }) => n.id);
}

describe('a whole scenario leaks no secret', () => {
  it('lists, mints consoles in every mode, opens consoles (one with a VNC password) and event subscriptions, and walks error paths', async () => {
    // Listings (the gateway logs in upstream here), health, upstream state, metrics.
    const all = await gql('vms all', '{ vms(first: 100) { nodes { id name status } pageInfo { hasNextPage endCursor } } }');
    expect(all.errors).toBeUndefined();
    const towerIds = await vmIds('tower');
    const abiquoIds = await vmIds('abiquo');
    expect(towerIds.length).toBeGreaterThan(0);
    expect(env.abiquoPasswordVmIds.every((id) => abiquoIds.includes(id))).toBe(true);
    await gql('vm', 'query($id: ID!) { vm(id: $id) { id name status } }', { id: towerIds[0] });
    await gql('upstreams', '{ upstreams { name kind connected lastEventAt registrations lastError } }');
    await capture.fetch('readyz', `${env.url}/readyz`);
    await capture.fetch('healthz', `${env.url}/healthz`);

    // Subscriptions first, so they see the consoles' events.
    const events = capture.ws('graphql-ws events', wsUrl('/graphql'), 'graphql-transport-ws');
    await events.opened;
    events.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect((await events.json()).type).toBe('connection_ack');
    events.ws.send(JSON.stringify({ id: 'all', type: 'subscribe', payload: { query: 'subscription { events { id source provider time type action key principal object original } }' } }));
    events.ws.send(JSON.stringify({ id: 'drp', type: 'subscribe', payload: { query: 'subscription { events(filter: { pattern: "machines.*.*", sources: [DRP] }) { id key } }' } }));
    events.ws.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: '{ upstreams { name connected lastError } vms(first: 3) { nodes { id } } }' } }));

    // consoleUrl and console in every mode.
    for (const mode of ['DIRECT', 'UPSTREAM'] as const) {
      const res = await gql(`consoleUrl ${mode}`, `query($id: ID!) { consoleUrl(vmId: $id, mode: ${mode}) console(vmId: $id, mode: ${mode}) { url protocols expiresAt } }`, { id: towerIds[0] }, ['towerConsoleToken']);
      expect(res.errors).toBeUndefined();
    }
    const viaConsole = await gql('console GATEWAY', 'query($id: ID!) { console(vmId: $id, mode: GATEWAY) { url protocols expiresAt } }', { id: abiquoIds[0] }, ['ticket']);
    ticketOf(viaConsole.data.console.url);

    // A CloudTower console, ticket in the query string.
    const towerConsole = capture.ws('tower console', await mintConsoleUrl(towerIds[0]!), ['binary']);
    expect(await towerConsole.opened).toBe('binary');
    expect(await rfbHandshake(towerConsole)).not.toBe('');
    // An Abiquo console with a VNC password, ticket as a subprotocol.
    const abiquoUrl = await mintConsoleUrl(env.abiquoPasswordVmIds[0]!);
    const abiquoConsole = capture.ws('abiquo console', wsUrl('/websockify'), ['binary', `ticket.${ticketOf(abiquoUrl)}`]);
    expect(await abiquoConsole.opened).toBe('binary');
    expect(await rfbHandshake(abiquoConsole)).not.toBe('');
    // A second one with a VNC password: the password must not show up in its stream either.
    const second = capture.ws('abiquo console 2', await mintConsoleUrl(env.abiquoPasswordVmIds[1]!), ['binary']);
    await second.opened;
    await rfbHandshake(second);

    // Error paths: a used ticket, a ticket for another VM's path, garbage tickets, bad ids and cursors.
    const used = await capture.rawUpgrade('reused ticket', `${wsUrl('/websockify')}?ticket=${ticketOf(await mintConsoleUrl(towerIds[1]!))}`, { 'sec-websocket-protocol': 'binary' });
    expect(used.status).toBe(101);
    const reused = capture.ws('reused ticket again', `${wsUrl('/websockify')}?ticket=${[...tickets].at(-1)}`, ['binary']);
    await expect(reused.opened).rejects.toMatchObject({ status: 403 });
    await expect(capture.ws('forged ticket', `${wsUrl('/websockify')}?ticket=${'A'.repeat(43)}`, ['binary']).opened).rejects.toMatchObject({ status: 401 });
    await gql('bad vm id', '{ consoleUrl(vmId: "nope") }');
    await gql('unknown vm', '{ consoleUrl(vmId: "tower:doesnotexist000000000000") }');
    await gql('bad cursor', '{ vms(after: "!!!") { nodes { id } } }');
    await gql('direct on abiquo', `{ consoleUrl(vmId: "${abiquoIds[0]}", mode: DIRECT) }`);
    await gql('syntax error', '{ vms(');
    await capture.fetch('not json', `${env.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    // An upstream fault and a refused upstream login.
    env.tower.injectFault({ kind: 'error', path: '/v2/api/get-vms', status: 500 });
    await gql('tower fault', '{ vms(provider: "tower") { nodes { id } } }');
    env.tower.revokeTokens();
    await gql('tower relogin', '{ vms(provider: "tower", first: 1) { nodes { id } } }');

    // Close the consoles: their audit lines and consoles.closed events are part of what is checked.
    for (const s of [towerConsole, abiquoConsole, second]) {
      s.ws.close(1000);
      await s.closed;
    }
    // Wait for the consoles.closed events of all three on the subscription.
    let closedEvents = 0;
    while (closedEvents < 3) {
      const msg = await events.json();
      if (msg.id === 'all' && msg.payload?.data?.events?.action === 'closed') closedEvents++;
    }
    await capture.fetch('metrics', `${env.url}/metrics`);
    events.ws.close(1000);
    await events.closed;
    expect(env.towerSessionTokens.size).toBeGreaterThanOrEqual(2);
    expect(env.towerConsoleTokens.size).toBeGreaterThanOrEqual(4);
    expect(tickets.size).toBeGreaterThanOrEqual(5);
  });

  it('finds no secret where it must not be', () => {
    for (const line of env.logs.lines) capture.add('log', line);
    const abiquoBasic = Buffer.from(`gw:${ABIQUO_PASSWORD}`).toString('base64');
    const never: Array<[string, string]> = [
      ['CloudTower password', TOWER_PASSWORD],
      ['Abiquo password', ABIQUO_PASSWORD],
      ['Abiquo Basic credentials', abiquoBasic],
      ['DRP password', DRP_PASSWORD],
      ...env.vncPasswords.map((p): [string, string] => ['VNC password', p]),
      ...[...env.towerSessionTokens].map((t): [string, string] => ['CloudTower session token', t]),
    ];
    const report: string[] = [];
    for (const [what, value] of never) {
      for (const leak of capture.leaks(value, null)) report.push(`${what} in ${leak.where}`);
    }
    for (const t of tickets) for (const leak of capture.leaks(t, 'ticket')) report.push(`ticket in ${leak.where}`);
    for (const t of env.towerConsoleTokens) {
      for (const form of new Set([t, encodeURIComponent(t)])) for (const leak of capture.leaks(form, 'towerConsoleToken')) report.push(`CloudTower console token in ${leak.where}`);
    }
    expect(report).toEqual([]);
    // The check can fail: the allowed places do hold the secrets.
    expect(capture.entries.some((e) => e.allow.has('ticket') && [...tickets].some((t) => e.text.includes(t)))).toBe(true);
    expect(capture.entries.some((e) => e.allow.has('towerConsoleToken') && [...env.towerConsoleTokens].some((t) => e.text.includes(encodeURIComponent(t))))).toBe(true);
    expect(capture.entries.filter((e) => e.where === 'log').length).toBeGreaterThan(20);
  });
});

describe('SSRF: nothing a client sends can point the gateway at a host', () => {
  it('never connects to a sentinel named through any parameter', async () => {
    const target = `127.0.0.1:${sentinelPort}`;
    const ticket = ticketOf(await mintConsoleUrl((await vmIds('tower'))[0]!));
    const consoleProbes = [
      `host=127.0.0.1&port=${sentinelPort}&ticket=${ticket}`,
      `host=127.0.0.1&port=${sentinelPort}`,
      `path=//${target}/&ticket=${ticket}`,
      `target=${target}&ticket=${ticket}`,
      `token=${target}`,
      `token=${encodeURIComponent(`ws://${target}/`)}`,
    ];
    for (const q of consoleProbes) {
      const r = await capture.rawUpgrade(`console probe ${q}`, `${wsUrl('/websockify')}?${q}`, { 'sec-websocket-protocol': 'binary' });
      expect(r.status, q).toBeGreaterThanOrEqual(400);
    }
    const vmIdProbes = [
      `tower:http://${target}/`,
      `tower:@${target}`,
      `tower:x@${target}`,
      `tower:../../${target}`,
      `abiquo:1/http://${target}`,
      `abiquo:1/2@${target}`,
      `http://${target}`,
      `${target}:1`,
    ];
    for (const id of vmIdProbes) {
      for (const mode of ['GATEWAY', 'DIRECT', 'UPSTREAM']) {
        const res = await gql(`vm id probe ${id} ${mode}`, `query($id: ID!) { consoleUrl(vmId: $id, mode: ${mode}) }`, { id });
        expect(res.errors?.[0]?.extensions?.code, id).toMatch(/BAD_USER_INPUT|NOT_FOUND|CONSOLE_UNAVAILABLE/);
      }
      const vm = await gql(`vm probe ${id}`, 'query($id: ID!) { vm(id: $id) { id } }', { id });
      expect(vm.errors?.[0]?.extensions?.code ?? 'null', id).toMatch(/BAD_USER_INPUT|NOT_FOUND|null/);
    }
    const cursors = [{ p: `http://${target}`, o: 0 }, { p: target, o: 0 }, { p: 'tower', o: -1 }, { p: 'drp', o: 0 }].map((c) => Buffer.from(JSON.stringify(c)).toString('base64url'));
    for (const after of cursors) {
      const res = await gql('cursor probe', 'query($a: String) { vms(after: $a, first: 2) { nodes { id } } }', { a: after });
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const providerProbe = await gql('provider probe', 'query($p: String) { vms(provider: $p) { nodes { id } } }', { p: `http://${target}` });
    expect(providerProbe.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const events = capture.ws('event filter probes', wsUrl('/graphql'), 'graphql-transport-ws');
    await events.opened;
    events.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await events.json();
    const filters = [`{ pattern: "http://${target}.*.*" }`, `{ providers: ["${target}"] }`, `{ pattern: "machines.*.${target}", sources: [DRP] }`];
    filters.forEach((f, i) => events.ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: `subscription { events(filter: ${f}) { id } }` } })));
    const answered = new Set<string>();
    while (answered.size < 2) {
      const msg = await events.json();
      // A refused filter is a field error: `next` with errors, then `complete`.
      if (msg.type === 'error' || (msg.type === 'next' && msg.payload.errors)) {
        expect(JSON.stringify(msg)).toContain('BAD_USER_INPUT');
        answered.add(msg.id);
      }
    }
    events.ws.close(1000);
    await events.closed;
    expect(sentinelConnections).toBe(0);
  });
});

describe('cross-origin WebSocket opens', () => {
  it('refuses /graphql and /websockify upgrades from an origin outside the allowlist, before anything is spent', async () => {
    const evil = { origin: 'https://evil.example' };
    const gqlWs = capture.ws('cross-origin graphql-ws', wsUrl('/graphql'), 'graphql-transport-ws', evil);
    await expect(gqlWs.opened).rejects.toMatchObject({ status: 403 });
    const url = await mintConsoleUrl((await vmIds('tower'))[0]!);
    const consoleWs = capture.ws('cross-origin console', url, ['binary'], evil);
    await expect(consoleWs.opened).rejects.toMatchObject({ status: 403 });
    // The refused open did not use the ticket up: the same URL still opens from the gateway's own origin.
    const sameOrigin = capture.ws('same-origin console', url, ['binary'], { origin: env.url });
    expect(await sameOrigin.opened).toBe('binary');
    sameOrigin.ws.close(1000);
    await sameOrigin.closed;
  });
});

describe('query bombs and oversized input', () => {
  const deep = `{ ${'a { '.repeat(40)}b${' }'.repeat(40)} }`;
  const aliased = `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: upstreams { name }`).join(' ')} }`;
  const wide = `{ vms(first: 1) { nodes { ${'id '.repeat(3000)} } } }`;
  const costly = `{ ${Array.from({ length: 14 }, (_, i) => `v${i}: vms(first: 500) { nodes { id name status provider { name kind } } edges { cursor node { id name status provider { name kind } } } }`).join(' ')} }`;

  it('refuses deep, aliased, wide and costly operations over HTTP', async () => {
    const d = await gql('deep', deep);
    expect(d.errors.map((e: { message: string }) => e.message).join(' ')).toMatch(/depth/i);
    const a = await gql('aliased', aliased);
    expect(a.errors.map((e: { message: string }) => e.message).join(' ')).toMatch(/alias/i);
    const w = await gql('wide', wide);
    expect(w.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const c = await gql('costly', costly);
    expect(c.errors.map((e: { message: string }) => e.message).join(' ')).toMatch(/cost/i);
  });

  it('refuses the same over graphql-ws, and closes a socket that sends an oversized message', async () => {
    const s = capture.ws('bombs over ws', wsUrl('/graphql'), 'graphql-transport-ws');
    await s.opened;
    s.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await s.json();
    const bombs = { deep, aliased, wide, costly };
    for (const [id, query] of Object.entries(bombs)) s.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    const errors = new Map<string, string>();
    while (errors.size < 4) {
      const msg = await s.json();
      expect(msg.type, JSON.stringify(msg)).toBe('error');
      errors.set(msg.id, msg.payload[0].extensions.code);
    }
    expect(errors.get('wide')).toBe('GRAPHQL_PARSE_FAILED');
    expect(errors.get('deep')).toBe('GRAPHQL_VALIDATION_FAILED');
    s.ws.send(JSON.stringify({ id: 'huge', type: 'subscribe', payload: { query: `{ __typename }`, variables: { pad: 'x'.repeat(200 * 1024) } } }));
    expect((await s.closed).code).toBe(1009);
  });

  it('answers an oversized HTTP body with 413 and stays up', async () => {
    const r = await capture.fetch('huge body', `${env.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(300 * 1024) } }) });
    expect(r.status).toBe(413);
    expect((await capture.fetch('healthz after', `${env.url}/healthz`)).status).toBe(200);
  });

  it('closes a console that sends a frame over console.maxFrameBytes with 1009', async () => {
    const s = capture.ws('oversized console frame', await mintConsoleUrl((await vmIds('tower'))[0]!), ['binary']);
    await s.opened;
    await s.read(12);
    s.ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1));
    expect((await s.closed).code).toBe(1009);
  });
});

describe('1,000 bad tickets in a row', () => {
  async function refusedTotal(): Promise<number> {
    const text = (await capture.fetch('metrics', `${env.url}/metrics`)).body;
    return text
      .split('\n')
      .filter((l) => l.startsWith('console_tickets_refused_total{'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }

  it('refuses each, stays up with a flat heap, and counts them', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    const heap = (): number => {
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    const before = await refusedTotal();
    const badTickets = (i: number): string => (i % 3 === 0 ? 'short' : i % 3 === 1 ? `${'B'.repeat(42)}${i % 10}` : Buffer.from(`forged-${i}-`.padEnd(32, 'x')).toString('base64url'));
    const send = async (from: number, to: number): Promise<void> => {
      // 10 at a time: concurrent, but not a connection flood (that is the rate limiter's business).
      for (let i = from; i < to; i += 10) {
        const batch = Array.from({ length: Math.min(10, to - i) }, (_, j) => {
          const url = `${wsUrl('/websockify')}?ticket=${encodeURIComponent(badTickets(i + j))}`;
          return new Promise<number>((resolve, reject) => {
            import('node:http').then(({ request }) => {
              const u = new URL(url);
              const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'binary' } });
              req.on('response', (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
              });
              req.on('upgrade', () => reject(new Error('a bad ticket was accepted')));
              req.on('error', reject);
              req.end();
            }, reject);
          });
        });
        for (const status of await Promise.all(batch)) expect(status).toBeGreaterThanOrEqual(400);
      }
    };
    await send(0, 100); // warm-up: lazily built things (parsers, metric series) exist before measuring
    const heapBefore = heap();
    await send(100, 1000);
    const heapAfter = heap();
    expect((await capture.fetch('healthz after tickets', `${env.url}/healthz`)).status).toBe(200);
    expect((await refusedTotal()) - before).toBe(1000);
    // Flat: with a real gc() 8 MiB is generous; without one, allow garbage that has not been collected yet.
    expect(heapAfter - heapBefore).toBeLessThan((gc ? 8 : 64) * 1024 * 1024);
  }, 60_000);
});
