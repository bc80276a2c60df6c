/**
 * Test servers for the console endpoint: the endpoint alone (node:http + the endpoint on 'upgrade'),
 * a TCP echo server (a VNC server stand-in) and a `ws` echo server (an upstream websockify stand-in).
 * All on 127.0.0.1, ephemeral ports. The browser side opens with test/helpers/ws.ts.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { once } from 'node:events';
import type { Cleanups } from '../helpers/cleanups.js';
import { afterEach, beforeEach, vi } from 'vitest';
import { Registry } from 'prom-client';
import { WebSocket, WebSocketServer } from 'ws';
import { createConsoleEndpoint } from '../../src/console/endpoint.js';
import type { ConsoleEndpoint, ConsoleEndpointOptions, ConsoleSessionEvent } from '../../src/console/endpoint.js';
import { TicketService } from '../../src/console/tickets.js';
import type { ResolvedTarget } from '../../src/console/session.js';
import { parseVmId } from '../../src/vm-id.js';
import { captureLogger } from '../helpers/log-capture.js';

export interface TcpEcho {
  port: number;
  server: NetServer;
  /** Connections accepted so far. */
  accepted: number;
  sockets: Set<Socket>;
  /** Resolves with the next accepted socket. */
  nextConnection(): Promise<Socket>;
  close(): Promise<void>;
}

/** A TCP server; by default echoes. `onConnection` replaces the echo. */
export async function startTcpServer(onConnection?: (socket: Socket) => void): Promise<TcpEcho> {
  const sockets = new Set<Socket>();
  const waiters: Array<(s: Socket) => void> = [];
  const state: TcpEcho = {
    port: 0,
    server: createNetServer((socket) => {
      state.accepted++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      if (onConnection) onConnection(socket);
      else socket.pipe(socket);
      waiters.shift()?.(socket);
    }),
    accepted: 0,
    sockets,
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => state.server.close(() => resolve()));
    },
  };
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

export interface WsEcho {
  port: number;
  url: string;
  wss: WebSocketServer;
  accepted: number;
  protocols: string[];
  clients: Set<WebSocket>;
  nextConnection(): Promise<WebSocket>;
  close(): Promise<void>;
}

/** A `ws` server standing in for websockify: negotiates `binary`; by default echoes binary messages, `onConnection` replaces the echo. */
export async function startWsEcho(onConnection?: (ws: WebSocket) => void): Promise<WsEcho> {
  const waiters: Array<(ws: WebSocket) => void> = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    handleProtocols: (p: Set<string>) => (p.has('binary') ? 'binary' : false),
  });
  const state: WsEcho = {
    port: 0,
    url: '',
    wss,
    accepted: 0,
    protocols: [],
    clients: new Set(),
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
    close: async () => {
      for (const c of state.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  wss.on('connection', (ws) => {
    state.accepted++;
    state.protocols.push(ws.protocol);
    state.clients.add(ws);
    ws.on('close', () => state.clients.delete(ws));
    ws.on('error', () => {});
    if (onConnection) onConnection(ws);
    else ws.on('message', (data: Buffer, isBinary) => ws.send(data, { binary: isBinary }));
    waiters.shift()?.(ws);
  });
  await once(wss, 'listening');
  state.port = (wss.address() as AddressInfo).port;
  state.url = `ws://127.0.0.1:${state.port}/websockify/?token=upstream-secret-token`;
  return state;
}

/** The console endpoint alone, on a bare node:http server: no GraphQL, no upstream kinds. */
export interface TestConsoleEndpoint {
  url: string;
  server: HttpServer;
  endpoint: ConsoleEndpoint;
  tickets: TicketService;
  log: ReturnType<typeof captureLogger>;
  events: ConsoleSessionEvent[];
  registry: Registry;
  /** Resolves with the `closed` event of the next session to end. */
  nextClosed(): Promise<Extract<ConsoleSessionEvent, { type: 'closed' }>>;
  /** Resolves once `n` sessions have ended in total. */
  closedCount(n: number): Promise<void>;
  mint(vmId?: string): Promise<string>;
  close(): Promise<void>;
}

export interface ConsoleEndpointHarnessOptions extends Partial<Omit<ConsoleEndpointOptions, 'logger' | 'tickets' | 'resolveTarget'>> {
  tickets?: TicketService;
  resolveTarget?: ConsoleEndpointOptions['resolveTarget'];
  /** Shortcut: every ticket resolves to this target. */
  target?: ResolvedTarget;
}

export async function startConsoleEndpoint(options: ConsoleEndpointHarnessOptions): Promise<TestConsoleEndpoint> {
  // A plain logger: the endpoint itself must never hand a secret to it (the gateway's would scrub it).
  const log = captureLogger('trace', { plain: true });
  const events: ConsoleSessionEvent[] = [];
  const registry = new Registry();
  const tickets = options.tickets ?? new TicketService();
  const closedWaiters: Array<(e: Extract<ConsoleSessionEvent, { type: 'closed' }>) => void> = [];
  const countWaiters: Array<{ n: number; resolve: () => void }> = [];
  let closed = 0;
  const { target, ...rest } = options;
  const endpoint = createConsoleEndpoint({
    metrics: registry,
    ...rest,
    tickets,
    logger: log.logger,
    resolveTarget:
      options.resolveTarget ??
      (async () => {
        if (!target) throw new Error('no target');
        return target;
      }),
    onSessionEvent: (e) => {
      events.push(e);
      if (e.type === 'closed') {
        closed++;
        closedWaiters.shift()?.(e);
        for (const w of [...countWaiters]) {
          if (closed >= w.n) {
            countWaiters.splice(countWaiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
      options.onSessionEvent?.(e);
    },
  });
  const server = createHttpServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname.startsWith('/websockify')) endpoint.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/websockify`,
    server,
    endpoint,
    tickets,
    log,
    events,
    registry,
    nextClosed: () => new Promise((resolve) => closedWaiters.push(resolve)),
    closedCount: (n) => (closed >= n ? Promise.resolve() : new Promise((resolve) => countWaiters.push({ n, resolve }))),
    mint: async (vmId = 'sim:vm-1') => (await tickets.mint({ ...parseVmId(vmId), caller: 'alice' })).ticket,
    close: async () => {
      await endpoint.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Collects binary messages until `n` bytes arrived. */
export function collect(ws: WebSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onMessage = (data: Buffer): void => {
      parts.push(data);
      got += data.length;
      if (got >= n) {
        ws.off('message', onMessage);
        resolve(Buffer.concat(parts));
      }
    };
    ws.on('message', onMessage);
    ws.once('close', (code) => {
      if (got < n) reject(new Error(`closed with ${code} after ${got} of ${n} bytes`));
    });
  });
}

export function tcpTarget(port: number, extra: Partial<Extract<ResolvedTarget, { kind: 'tcp' }>> = {}): ResolvedTarget {
  return { kind: 'tcp', host: '127.0.0.1', port, describe: `tcp://127.0.0.1:${port}`, provider: 'sim', ...extra };
}

export function wsTarget(echo: WsEcho): ResolvedTarget {
  return { kind: 'websocket', url: echo.url, protocols: ['binary'], describe: `ws://127.0.0.1:${echo.port}/websockify/`, provider: 'sim' };
}

/** A port with nothing listening: bind, note it, close. */
export async function closedPort(): Promise<number> {
  const s = createNetServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * The endpoint's shared ticker on fake time: only setInterval is faked (sockets and their own timers
 * stay real), and `clock.ms` is what the endpoint's `now` (`clock.now`) reads. Reset before each test;
 * after each, real timers come back and `cleanups` run.
 */
export function useFakeTicker(cleanups: Cleanups): { ms: number; readonly now: () => number } {
  const clock = { ms: 0, now: (): number => clock.ms };
  beforeEach(() => {
    clock.ms = 0;
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await cleanups.run();
  });
  return clock;
}
