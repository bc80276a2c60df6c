import net from 'node:net';
import { EventEmitter, once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CLOSE_CONSOLE_UNAVAILABLE, CLOSE_TARGET_CLOSED, startCloudTowerSimulator } from '../../../src/simulators/cloudtower/index.js';
import type { CloudTowerSimulator, CloudTowerSimulatorOptions, VncAnswer } from '../../../src/simulators/cloudtower/index.js';
import { bridge } from '../../../src/simulators/cloudtower/websockify.js';
import { mustOpen, openWs } from '../../helpers/ws.js';

const WEB01 = 'clsim0vm000web01000000001';
const WIN = 'clsim0vm000win01000000004';
const SUSPENDED = 'clsim0vm000test1000000005';

let sim: CloudTowerSimulator | undefined;
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await sim?.close();
  sim = undefined;
});

/** A TCP echo server standing in for a VM's RFB server; records when a peer ends its side. */
async function startEchoServer(): Promise<{ port: number; ended: Promise<void>; connections: net.Socket[] }> {
  const connections: net.Socket[] = [];
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  const server = net.createServer((socket) => {
    connections.push(socket);
    socket.on('end', () => {
      markEnded();
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.pipe(socket, { end: false });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const socket of connections) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as net.AddressInfo).port, ended, connections };
}

async function start(options: CloudTowerSimulatorOptions = {}): Promise<{ s: CloudTowerSimulator; token: string }> {
  const s = await startCloudTowerSimulator(options);
  sim = s;
  const res = await fetch(`${s.url}/v2/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'HC!r0cks', source: 'LOCAL' }),
  });
  return { s, token: ((await res.json()) as { data: { token: string } }).data.token };
}

async function vnc(s: CloudTowerSimulator, token: string, id: string): Promise<VncAnswer> {
  const res = await fetch(`${s.url}/api`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-language': 'en-US', authorization: token },
    body: JSON.stringify({
      operationName: 'vnc',
      variables: { input: { vm: { id } } },
      query: 'query vnc($input: VncInput!) { vnc(input: $input) { vm_uuid host_ip cluster_ip raw_token token } }',
    }),
  });
  return ((await res.json()) as { data: { vnc: VncAnswer } }).data.vnc;
}

function wsBase(s: CloudTowerSimulator): string {
  return s.url.replace('http://', 'ws://');
}

const directUrl = (s: CloudTowerSimulator, v: VncAnswer): string =>
  `${wsBase(s)}/websockify/?uuid=${v.vm_uuid}&token=${v.raw_token}&host=${v.host_ip}`;
const towerUrl = (s: CloudTowerSimulator, v: VncAnswer): string =>
  `${wsBase(s)}/websockify/?token=${encodeURIComponent(v.token)}&uuid=${v.vm_uuid}&host=${v.host_ip}`;

const sockets = new Set<WebSocket>();
cleanups.push(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

/** websockify clients (noVNC) offer both subprotocols. */
const BOTH = ['binary', 'base64'];
/** Send `payload` and collect echoed bytes until as many came back. */
async function roundTrip(ws: WebSocket, payload: Buffer): Promise<Buffer> {
  const received: Buffer[] = [];
  let total = 0;
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(true);
      received.push(data);
      total += data.length;
      if (total >= payload.length) resolve();
    });
  });
  ws.send(payload);
  await done;
  return Buffer.concat(received);
}

describe('CloudTower simulator: websockify', () => {
  it('accepts the direct form, negotiates binary and bridges bytes both ways', async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const v = await vnc(s, token, WEB01);
    const ws = await mustOpen(directUrl(s, v), { protocols: BOTH, track: sockets });
    expect(ws.protocol).toBe('binary');
    const payload = Buffer.from('RFB 003.008\n\x00\x01\x02\xff', 'latin1');
    expect(await roundTrip(ws, payload)).toEqual(payload);
    expect(s.websockifyConnections).toEqual([
      { uuid: v.vm_uuid, host: v.host_ip, form: 'direct', status: 101, protocol: 'binary', vmId: WEB01 },
    ]);
  });

  it('accepts the through-tower form with the URL-encoded token and carries 1 MiB intact', async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const v = await vnc(s, token, WEB01);
    const ws = await mustOpen(towerUrl(s, v), { protocols: BOTH, track: sockets });
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
    expect((await roundTrip(ws, payload)).equals(payload)).toBe(true);
    expect(s.websockifyConnections[0]?.form).toBe('tower');
  });

  it('refuses a token put in the URL without encoding (its + reads as a space)', async () => {
    const { s, token } = await start();
    const v = await vnc(s, token, WEB01);
    const raw = `${wsBase(s)}/websockify/?token=${v.token}&uuid=${v.vm_uuid}&host=${v.host_ip}`;
    expect(await openWs(raw, { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
  });

  it.each([
    ['wrong token', (v: VncAnswer) => ({ ...v, raw_token: '0'.repeat(32) })],
    ['wrong uuid', (v: VncAnswer) => ({ ...v, vm_uuid: '6a1f2c3e-0004-4a5b-8c9d-000000000004' })],
    ['wrong host', (v: VncAnswer) => ({ ...v, host_ip: '127.0.0.2' })],
  ])('refuses the upgrade with 403 for a %s', async (_label, tamper) => {
    const { s, token } = await start();
    const v = await vnc(s, token, WEB01);
    expect(await openWs(directUrl(s, tamper(v)), { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
    expect(s.websockifyConnections).toEqual([
      expect.objectContaining({ form: null, status: 403, vmId: null }),
    ]);
  });

  it('refuses missing parameters and credentials that were never issued', async () => {
    const { s } = await start();
    expect(await openWs(`${wsBase(s)}/websockify/`, { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
    const made = `${wsBase(s)}/websockify/?uuid=6a1f2c3e-0001-4a5b-8c9d-000000000001&token=${'a'.repeat(32)}&host=127.0.0.1`;
    expect(await openWs(made, { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
    expect(await openWs(`${wsBase(s)}/not-websockify/`, { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 404 });
  });

  it('honours the credential lifetime (fake clock): valid just before, refused at expiry', async () => {
    const echo = await startEchoServer();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'));
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }), vncCredentialTtlMs: 60_000 });
    const v = await vnc(s, token, WEB01);
    vi.setSystemTime(new Date('2025-01-01T00:00:59.999Z'));
    const ws = await mustOpen(directUrl(s, v), { protocols: BOTH, track: sockets });
    ws.terminate();
    vi.setSystemTime(new Date('2025-01-01T00:01:00Z'));
    expect(await openWs(directUrl(s, v), { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
  });

  it('defaults the lifetime to 5 minutes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'));
    const { s, token } = await start();
    const v = await vnc(s, token, WEB01);
    vi.setSystemTime(new Date('2025-01-01T00:04:59Z'));
    expect((await openWs(towerUrl(s, v), { protocols: BOTH, track: sockets })).ok).toBe(true);
    vi.setSystemTime(new Date('2025-01-01T00:05:00Z'));
    expect(await openWs(towerUrl(s, v), { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
  });

  it('refuses credentials of a removed VM and after revokeVncCredentials', async () => {
    const { s, token } = await start();
    const web = await vnc(s, token, WEB01);
    const win = await vnc(s, token, WIN);
    s.removeVm(WEB01);
    expect(await openWs(directUrl(s, web), { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
    s.revokeVncCredentials();
    expect(await openWs(directUrl(s, win), { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 403 });
  });

  it('accepts a client offering no subprotocol, with none selected', async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const v = await vnc(s, token, WEB01);
    const ws = await mustOpen(directUrl(s, v), { protocols: [], track: sockets });
    expect(ws.protocol).toBe('');
    expect(s.websockifyConnections[0]?.protocol).toBe('');
  });

  it('closes with 1011 after the handshake when the VM has no reachable console', async () => {
    const { s, token } = await start({ consoleFor: () => null });
    const v = await vnc(s, token, WEB01);
    const ws = await mustOpen(directUrl(s, v), { protocols: BOTH, track: sockets });
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(CLOSE_CONSOLE_UNAVAILABLE);
  });

  it('passes the VM in API shape to consoleFor', async () => {
    const echo = await startEchoServer();
    const consoleFor = vi.fn(() => ({ host: '127.0.0.1', port: echo.port }));
    const { s, token } = await start({ consoleFor });
    await mustOpen(directUrl(s, await vnc(s, token, WEB01)), { protocols: BOTH, track: sockets });
    expect(consoleFor).toHaveBeenCalledWith(expect.objectContaining({ id: WEB01, name: 'web-01', status: 'RUNNING' }));
  });

  it('refuses the console of a stopped VM (no hypervisor process) without asking consoleFor', async () => {
    const echo = await startEchoServer();
    const consoleFor = vi.fn(() => ({ host: '127.0.0.1', port: echo.port }));
    const { s, token } = await start({ consoleFor });
    const ws = await mustOpen(directUrl(s, await vnc(s, token, WIN)), { protocols: BOTH, track: sockets });
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(CLOSE_CONSOLE_UNAVAILABLE);
    expect(consoleFor).not.toHaveBeenCalled();
  });

  it("serves a suspended VM's console (its process, and the frozen screen, stay up); refuses a deleted one's", async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const suspended = await mustOpen(directUrl(s, await vnc(s, token, SUSPENDED)), { protocols: BOTH, track: sockets });
    expect(await roundTrip(suspended, Buffer.from('z'))).toEqual(Buffer.from('z'));
    const credentials = await vnc(s, token, WEB01);
    s.setVmStatus(WEB01, 'DELETED');
    const deleted = await mustOpen(directUrl(s, credentials), { protocols: BOTH, track: sockets });
    expect(((await once(deleted, 'close')) as [number])[0]).toBe(CLOSE_CONSOLE_UNAVAILABLE);
    expect(echo.connections).toHaveLength(1);
  });

  it('a VM stopped while its console is open: the console connection ends and the WebSocket closes as websockify does (1000 "Target closed"); other VMs stay', async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const web = await mustOpen(directUrl(s, await vnc(s, token, WEB01)), { protocols: BOTH, track: sockets });
    const other = await mustOpen(towerUrl(s, await vnc(s, token, SUSPENDED)), { protocols: BOTH, track: sockets });
    await roundTrip(web, Buffer.from('a'));
    await roundTrip(other, Buffer.from('b'));
    const closing = once(web, 'close');
    s.setVmStatus(WEB01, 'STOPPED');
    const [code, reason] = (await closing) as [number, Buffer];
    expect({ code, reason: reason.toString() }).toEqual(CLOSE_TARGET_CLOSED);
    expect(await roundTrip(other, Buffer.from('c'))).toEqual(Buffer.from('c'));

    // Running again: a new console opens; a removed VM's open console drops too.
    s.setVmStatus(WEB01, 'RUNNING');
    const again = await mustOpen(directUrl(s, await vnc(s, token, WEB01)), { protocols: BOTH, track: sockets });
    await roundTrip(again, Buffer.from('d'));
    const removed = once(again, 'close');
    s.removeVm(WEB01);
    expect(((await removed) as [number])[0]).toBe(CLOSE_TARGET_CLOSED.code);
  });

  it('closes the WebSocket when the console ends, and ends the console when the WebSocket closes', async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const first = await mustOpen(directUrl(s, await vnc(s, token, WEB01)), { protocols: BOTH, track: sockets });
    await roundTrip(first, Buffer.from('x'));
    const closed = once(first, 'close');
    echo.connections[0]?.end();
    const [code] = (await closed) as [number];
    expect(code).toBe(1000);

    const second = await mustOpen(directUrl(s, await vnc(s, token, WEB01)), { protocols: BOTH, track: sockets });
    await roundTrip(second, Buffer.from('y'));
    second.close();
    await echo.ended;
  });

  it('websockify faults: an error fault on /websockify/ answers the upgrade with 500', async () => {
    const { s, token } = await start();
    const v = await vnc(s, token, WEB01);
    s.injectFault({ kind: 'error', path: '/websockify/' });
    expect(await openWs(directUrl(s, v), { protocols: BOTH, track: sockets })).toMatchObject({ ok: false, status: 500 });
  });

  it('close() ends open console sessions', async () => {
    const echo = await startEchoServer();
    const { s, token } = await start({ consoleFor: () => ({ host: '127.0.0.1', port: echo.port }) });
    const ws = await mustOpen(directUrl(s, await vnc(s, token, WEB01)), { protocols: BOTH, track: sockets });
    const closed = once(ws, 'close');
    await s.close();
    await closed;
  });
});

/** Stand-ins exposing just what `bridge` touches, so backpressure can be driven step by step. */
class FakeWebSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  paused = false;
  readonly sendCallbacks: (() => void)[] = [];
  readonly sent: Buffer[] = [];
  send(data: Buffer, _opts: unknown, cb: () => void): void {
    this.sent.push(data);
    this.sendCallbacks.push(cb);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  close(): void {
    this.readyState = WebSocket.CLOSED;
  }
}

class FakeTcp extends EventEmitter {
  paused = false;
  destroyed = false;
  writeReturns = true;
  readonly written: Buffer[] = [];
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  write(data: Buffer): boolean {
    this.written.push(data);
    return this.writeReturns;
  }
  end(cb?: () => void): void {
    cb?.();
  }
  destroy(): void {
    this.destroyed = true;
  }
}

describe('websockify bridge backpressure', () => {
  it('pauses the console socket above the high-water mark and resumes it once sends drain', () => {
    const ws = new FakeWebSocket();
    const tcp = new FakeTcp();
    bridge(ws as unknown as WebSocket, tcp as unknown as net.Socket, 1000);
    expect(tcp.paused).toBe(false);
    ws.bufferedAmount = 800;
    tcp.emit('data', Buffer.alloc(100));
    expect(tcp.paused).toBe(false);
    ws.bufferedAmount = 1200;
    tcp.emit('data', Buffer.alloc(400));
    expect(tcp.paused).toBe(true);
    ws.bufferedAmount = 700; // above the low-water mark (500): stay paused
    ws.sendCallbacks[0]?.();
    expect(tcp.paused).toBe(true);
    ws.bufferedAmount = 0;
    ws.sendCallbacks[1]?.();
    expect(tcp.paused).toBe(false);
    expect(ws.sent.map((b) => b.length)).toEqual([100, 400]);
  });

  it('pauses the WebSocket while the console socket cannot take more, resumes on drain', () => {
    const ws = new FakeWebSocket();
    const tcp = new FakeTcp();
    bridge(ws as unknown as WebSocket, tcp as unknown as net.Socket, 1000);
    ws.emit('message', Buffer.from('a'));
    expect(ws.paused).toBe(false);
    tcp.writeReturns = false;
    ws.emit('message', Buffer.from('b'));
    expect(ws.paused).toBe(true);
    tcp.emit('drain');
    expect(ws.paused).toBe(false);
    expect(Buffer.concat(tcp.written).toString()).toBe('ab');
  });
});
