import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { generate } from 'selfsigned';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { TicketService } from '../../src/console/tickets.js';
import { useCleanups } from '../helpers/cleanups.js';
import { closed, mustOpen, openWs } from '../helpers/ws.js';
import { collect, startConsoleEndpoint, startTcpServer, startWsEcho, tcpTarget, wsTarget } from './helpers.js';

const cleanups = useCleanups();
const clients = cleanups.sockets;

async function tcpEcho() {
  const echo = await startTcpServer();
  cleanups.add(() => echo.close());
  return echo;
}

async function gateway(opts: Parameters<typeof startConsoleEndpoint>[0]) {
  const gw = await startConsoleEndpoint(opts);
  cleanups.add(() => gw.close());
  return gw;
}

async function roundTrip(ws: WebSocket, sizes: number[]): Promise<void> {
  for (const size of sizes) {
    const payload = randomBytes(size);
    const got = collect(ws, size);
    ws.send(payload);
    expect((await got).equals(payload)).toBe(true);
  }
}

describe('console endpoint: byte round trips', () => {
  // Piping, counting and closing over both legs: legs.test.ts.
  it('offers an upstream websockify only the `binary` subprotocol', async () => {
    const upstream = await startWsEcho();
    cleanups.add(() => upstream.close());
    const gw = await gateway({ target: wsTarget(upstream) });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, [5]);
    expect(upstream.protocols).toEqual(['binary']);
  });

  it('accepts the ticket as a `ticket.<value>` subprotocol and selects only `binary`', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port) });
    const ticket = await gw.mint();
    const r = await openWs(gw.url, { protocols: ['binary', `ticket.${ticket}`], track: clients });
    if (!r.ok) throw new Error(`refused ${r.status}`);
    expect(r.protocol).toBe('binary');
    await roundTrip(r.ws, [100]);
  });

  it('accepts a client that offers no subprotocol at all', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port) });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { protocols: [], track: clients });
    expect(ws.protocol).toBe('');
    await roundTrip(ws, [10]);
  });
});

describe('console endpoint: refused upgrades', () => {
  let clock = 1_000_000;
  const now = (): number => clock;

  async function setup() {
    clock = 1_000_000;
    const echo = await tcpEcho();
    const tickets = new TicketService({ now, ttlMs: 30_000 });
    const gw = await gateway({ tickets, target: tcpTarget(echo.port), now, expectedVmId: (req) => new URL(req.url ?? '/', 'http://x').pathname.split('/')[2] || undefined });
    return { echo, gw };
  }

  const cases: Array<{ name: string; status: number; code: string; url: (base: string, gw: Awaited<ReturnType<typeof setup>>['gw']) => Promise<string> }> = [
    { name: 'missing', status: 401, code: 'TICKET_MISSING', url: async (b) => b },
    { name: 'empty', status: 401, code: 'TICKET_MISSING', url: async (b) => `${b}?ticket=` },
    { name: 'malformed', status: 401, code: 'TICKET_MALFORMED', url: async (b) => `${b}?ticket=not-a-ticket` },
    { name: 'forged', status: 401, code: 'TICKET_UNKNOWN', url: async (b) => `${b}?ticket=${randomBytes(32).toString('base64url')}` },
    {
      name: 'expired',
      status: 403,
      code: 'TICKET_EXPIRED',
      url: async (b, gw) => {
        const t = await gw.mint();
        clock += 30_000;
        return `${b}?ticket=${t}`;
      },
    },
    {
      name: 'wrong VM',
      status: 403,
      code: 'TICKET_WRONG_VM',
      url: async (b, gw) => `${b}/${encodeURIComponent('sim:other-vm')}?ticket=${await gw.mint('sim:vm-1')}`,
    },
  ];

  for (const c of cases) {
    it(`answers a ${c.name} ticket with HTTP ${c.status} ${c.code} and never contacts the target`, async () => {
      const { echo, gw } = await setup();
      const r = await openWs(await c.url(gw.url, gw), { track: clients });
      expect(r).toMatchObject({ ok: false, status: c.status, body: `${c.code}\n` });
      expect(echo.accepted).toBe(0);
      expect(gw.endpoint.sessions()).toBe(0);
      expect(gw.events).toEqual([]);
    });
  }

  it('refuses a replayed ticket with 403 TICKET_USED', async () => {
    const { echo, gw } = await setup();
    const ticket = await gw.mint();
    const first = await mustOpen(`${gw.url}?ticket=${ticket}`, { track: clients });
    await roundTrip(first, [8]);
    const replay = await openWs(`${gw.url}?ticket=${ticket}`, { track: clients });
    expect(replay).toMatchObject({ ok: false, status: 403, body: 'TICKET_USED\n' });
    expect(echo.accepted).toBe(1);
  });

  it('refuses a client offering only base64 (400) without using up the ticket', async () => {
    const { gw } = await setup();
    const ticket = await gw.mint();
    const r = await openWs(`${gw.url}?ticket=${ticket}`, { protocols: ['base64'], track: clients });
    expect(r).toMatchObject({ ok: false, status: 400, body: 'SUBPROTOCOL_UNSUPPORTED\n' });
    await mustOpen(`${gw.url}?ticket=${ticket}`, { track: clients });
  });

  it('refuses client-chosen host/port with 400 and contacts neither that host nor the ticket target', async () => {
    const { echo, gw } = await setup();
    const attackerTarget = await tcpEcho();
    const ticket = await gw.mint();
    for (const q of [`host=127.0.0.1&port=${attackerTarget.port}`, `port=${attackerTarget.port}`, 'path=x', `target=127.0.0.1:${attackerTarget.port}`]) {
      const r = await openWs(`${gw.url}?ticket=${ticket}&${q}`, { track: clients });
      expect(r).toMatchObject({ ok: false, status: 400, body: 'TARGET_PARAMS_REFUSED\n' });
    }
    expect(attackerTarget.accepted).toBe(0);
    expect(echo.accepted).toBe(0);
    // The ticket was not spent on the refused attempts.
    await mustOpen(`${gw.url}?ticket=${ticket}`, { track: clients });
  });

  it('refuses two credentials at once with 400', async () => {
    const { gw } = await setup();
    const a = await gw.mint();
    const b = await gw.mint();
    const r = await openWs(`${gw.url}?ticket=${a}`, { protocols: ['binary', `ticket.${b}`], track: clients });
    expect(r).toMatchObject({ ok: false, status: 400, body: 'CREDENTIALS_AMBIGUOUS\n' });
  });

  it('answers ?token= with 404 when no token file is configured', async () => {
    const { gw } = await setup();
    const r = await openWs(`${gw.url}?token=abc`, { track: clients });
    expect(r).toMatchObject({ ok: false, status: 404, body: 'TOKENS_NOT_ENABLED\n' });
  });

  it('refuses a request that is not a valid WebSocket handshake before touching the ticket', async () => {
    const { gw } = await setup();
    const ticket = await gw.mint();
    const port = gw.server.address() as AddressInfo;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: port.port,
        path: `/websockify?ticket=${ticket}`,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    await mustOpen(`${gw.url}?ticket=${ticket}`, { track: clients });
  });

  it('counts tickets, sessions and bytes in the metrics registry', async () => {
    const { gw } = await setup();
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, [8]);
    await openWs(`${gw.url}?ticket=bad`, { track: clients });
    const text = await gw.registry.metrics();
    expect(text).toMatch(/console_tickets_redeemed_total 1/);
    expect(text).toMatch(/console_tickets_refused_total\{reason="TICKET_MALFORMED"\} 1/);
    expect(text).toMatch(/console_sessions_active 1/);
    expect(text).toMatch(/console_bytes_total\{direction="client_to_upstream"\} 8/);
    expect(text).toMatch(/console_bytes_total\{direction="upstream_to_client"\} 8/);
    const ended = gw.nextClosed();
    ws.close(1000);
    await ended;
    const after = await gw.registry.metrics();
    expect(after).toMatch(/console_bytes_total\{direction="client_to_upstream"\} 8/);
    expect(after).toMatch(/console_sessions_closed_total\{code="1000"\} 1/);
    expect(after).toMatch(/console_session_duration_seconds_count 1/);
  });
});

describe('console endpoint: closes', () => {
  // Browser, upstream and refused-connection closes over both legs: legs.test.ts.
  it('closes with 4006 when the target cannot be resolved', async () => {
    const gw = await gateway({
      resolveTarget: async () => {
        throw Object.assign(new Error('vm gone'), { code: 'NOT_FOUND' });
      },
    });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    expect((await closed(ws)).code).toBe(ConsoleCloseCode.TargetUnavailable);
    await gw.closedCount(1);
    expect(gw.endpoint.sessions()).toBe(0);
  });

  it('closes with 1003 on a text frame and closes the upstream', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port) });
    const conn = echo.nextConnection();
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const sock = await conn;
    const upstreamGone = once(sock, 'close');
    ws.send('hello');
    expect((await closed(ws)).code).toBe(ConsoleCloseCode.UnsupportedData);
    await upstreamGone;
  });

  it('closes with 1009 on a frame over maxFrameBytes', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port), limits: { maxFrameBytes: 64 * 1024 } });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, [64 * 1024]);
    const ended = gw.nextClosed();
    ws.send(Buffer.alloc(64 * 1024 + 1));
    expect((await closed(ws)).code).toBe(ConsoleCloseCode.MessageTooBig);
    expect((await ended).closeCode).toBe(ConsoleCloseCode.MessageTooBig);
  });

  it('closeAll closes every session with 1001 and leaves none', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port) });
    const a = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const b = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const closes = Promise.all([closed(a), closed(b)]);
    await gw.endpoint.closeAll();
    expect((await closes).map((c) => c.code)).toEqual([1001, 1001]);
    expect(gw.endpoint.sessions()).toBe(0);
  });

  it('whenIdle resolves once the last open session has ended, and at once when none is open', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port) });
    await gw.endpoint.whenIdle();
    const a = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const b = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    let idle = false;
    const waiting = gw.endpoint.whenIdle().then(() => (idle = true));
    const firstEnded = gw.nextClosed();
    a.close(1000);
    await firstEnded;
    expect(idle).toBe(false);
    expect(gw.endpoint.sessions()).toBe(1);
    b.close(1000);
    await waiting;
    expect(gw.endpoint.sessions()).toBe(0);
  });

  it('after close() refuses new upgrades with 503', async () => {
    const echo = await tcpEcho();
    const gw = await gateway({ target: tcpTarget(echo.port) });
    await gw.endpoint.close();
    const r = await openWs(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    expect(r).toMatchObject({ ok: false, status: 503, body: 'SHUTTING_DOWN\n' });
  });
});

describe('console endpoint: secrets stay out of logs', () => {
  it('never writes the ticket or the upstream token into a log line, and writes one audit line', async () => {
    const upstream = await startWsEcho();
    cleanups.add(() => upstream.close());
    const gw = await gateway({ target: wsTarget(upstream) });
    const ticket = await gw.mint();
    const ws = await mustOpen(`${gw.url}?ticket=${ticket}`, { track: clients });
    await roundTrip(ws, [16]);
    // A replay and a subprotocol attempt, both refused, are logged too.
    await openWs(`${gw.url}?ticket=${ticket}`, { track: clients });
    const other = await gw.mint();
    await openWs(`${gw.url}/x`, { protocols: ['binary', `ticket.${other}x`], track: clients });
    const ended = gw.nextClosed();
    ws.close();
    await ended;

    const text = gw.log.text();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(ticket);
    expect(text).not.toContain(other);
    expect(text).not.toContain('upstream-secret-token');
    const audits = gw.log.records().filter((r) => r.msg === 'console session');
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      caller: 'alice',
      vmId: 'sim:vm-1',
      provider: 'sim',
      target: `ws://127.0.0.1:${upstream.port}/websockify/`,
      bytesToUpstream: 16,
      bytesToClient: 16,
      closeCode: 1005,
    });
    for (const k of ['startedAt', 'endedAt', 'durationMs', 'closeReason']) expect(audits[0]).toHaveProperty(k);
    const refusals = gw.log.records().filter((r) => r.msg === 'console upgrade refused');
    expect(refusals.map((r) => r.reason)).toEqual(['TICKET_USED', 'TICKET_MALFORMED']);
  });
});

describe('console endpoint: TLS to an upstream websockify', () => {
  async function wssEcho() {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const server = createHttpsServer({ cert: pems.cert, key: pems.private });
    const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: (p: Set<string>) => (p.has('binary') ? 'binary' : false) });
    wss.on('connection', (ws) => ws.on('message', (d: Buffer) => ws.send(d)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.add(async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    return { cert: pems.cert, port, url: `wss://127.0.0.1:${port}/websockify/?token=t` };
  }

  const target = (url: string, tls?: { ca?: string; insecure?: boolean }) => ({
    kind: 'websocket' as const,
    url,
    protocols: ['binary'],
    describe: 'wss://127.0.0.1/websockify/',
    provider: 'sim',
    ...(tls ? { tls } : {}),
  });

  it('refuses an untrusted certificate (4001), trusts a configured CA, and skips checks when insecure', async () => {
    const up = await wssEcho();
    const strict = await gateway({ target: target(up.url) });
    const a = await mustOpen(`${strict.url}?ticket=${await strict.mint()}`, { track: clients });
    expect((await closed(a)).code).toBe(ConsoleCloseCode.UpstreamUnreachable);

    const withCa = await gateway({ target: target(up.url, { ca: up.cert }) });
    await roundTrip(await mustOpen(`${withCa.url}?ticket=${await withCa.mint()}`, { track: clients }), [1000]);

    const insecure = await gateway({ target: target(up.url, { insecure: true }) });
    await roundTrip(await mustOpen(`${insecure.url}?ticket=${await insecure.mint()}`, { track: clients }), [1000]);
  });
});
