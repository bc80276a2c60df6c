/**
 * A Digital Rebar Provision (v3) server, as far as the gateway uses it: the event WebSocket, token
 * issue, and event publishing. It speaks the real protocol over real sockets (see UPSTREAMS.md, DRP).
 *
 * Choices where the protocol facts leave room (each documented where it is made):
 * - inbound messages over 512 bytes close the socket with 1009, as gorilla/websocket's read limit does;
 * - `deregister` of a filter that is not registered is still acknowledged;
 * - a filter without three parts is ignored, like an unknown command.
 */
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { SimulatorAuth, type AuthMethod, type AuthResult } from './auth.js';
import { DemoInventory, type DrpObjectChange } from './demo.js';
import { errorBody, generateCertificate, readBody, rejectUpgrade, sendJson } from './http.js';
import { SocketRegistrations, type RegisterOutcome } from './registrations.js';
import {
  ACK_TYPE,
  EVENTS_PATH,
  MAX_INBOUND_MESSAGE_BYTES,
  WS_PATH,
  encodeEvent,
  readCommand,
  readPostedEvent,
  type DrpEvent,
  type PublishedEvent,
} from './wire.js';

export const DEFAULT_DRP_USERS: Readonly<Record<string, string>> = Object.freeze({ rocketskates: 'r0cketsk8ts' });

export interface DrpSimulatorOptions {
  /** TCP port on 127.0.0.1; reuse a closed simulator's port to simulate a restart. Default: 0 (ephemeral). */
  port?: number;
  /** Serve HTTPS/WSS with a self-signed certificate (real DRP always does). Default: false (plain HTTP). */
  tls?: boolean;
  /** Certificate to serve when `tls` is on, so a restarted simulator keeps the one clients trust. Default: generated at start. */
  certificate?: { cert: string; key: string };
  /** user -> password. Default: the DRP demo user `rocketskates:r0cketsk8ts`. */
  users?: Record<string, string>;
  /** How often the server pings each socket, in ms; 0 disables pings and the pong deadline. Default: 54000. */
  pingIntervalMs?: number;
  /** A socket that has not answered a ping within this many ms is dropped. Default: 60000. */
  pongTimeoutMs?: number;
  /** Clock for token expiry and event times, in epoch ms. Default: Date.now. */
  now?: () => number;
  /** Emit a demo object event (machines, profiles, params) every this many ms; 0 disables. Default: 0. */
  autoEmitEveryMs?: number;
  /** Principal stamped on demo and posted events that carry none. Default: `user:rocketskates`. */
  principal?: string;
}

export interface SimConnectionInfo {
  id: number;
  user: string;
  authMethod: AuthMethod;
  registrations: string[];
}

export type SimCommandOutcome = RegisterOutcome | 'deregistered';

/**
 * Emits `connection` (SimConnectionInfo), `disconnect` (connection id), `command`
 * ({ connectionId, text, outcome }), `token` ({ user, ttlSeconds }) and `refused` ({ path, status })
 * so tests can wait on them.
 */
export interface DrpSimulator extends EventEmitter {
  /** http(s)://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** The served certificate (PEM), when `tls` is on: hand it to clients as `ca`. */
  readonly certificate: { cert: string; key: string } | null;
  /** Number of tokens issued so far. */
  readonly tokensIssued: number;
  connections(): SimConnectionInfo[];
  /** Sum of the active registrations over all connections. */
  totalRegistrations(): number;
  /** Sends an event to every socket with a matching registration; returns how many sockets got it. */
  publish(event: PublishedEvent): number;
  /** Publishes an object change the way DRP reports one (Original only for update/save). */
  emitObjectEvent(change: Omit<DrpObjectChange, 'original'> & { original?: unknown; principal?: string }): DrpEvent;
  /** The next change of the demo inventory, published. */
  emitDemoEvent(): DrpEvent;
  issueToken(user: string, ttlSeconds: number): string;
  revokeAllTokens(): void;
  /** Drops every WebSocket abruptly (no close frame), as a network failure would. */
  kickAll(): void;
  /** Terminates every socket and stops listening; the port can then be reused. */
  close(): Promise<void>;
}

const DEFAULT_TOKEN_TTL_SECONDS = 3600;

interface Connection {
  id: number;
  ws: WebSocket;
  user: string;
  authMethod: AuthMethod;
  registrations: SocketRegistrations;
  timers: Array<NodeJS.Timeout>;
}

export async function startDrpSimulator(options: DrpSimulatorOptions = {}): Promise<DrpSimulator> {
  const certificate = options.tls ? (options.certificate ?? (await generateCertificate())) : null;
  const sim = new DrpSimulatorServer(options, certificate);
  await sim.listen(options.port ?? 0);
  return sim;
}

class DrpSimulatorServer extends EventEmitter implements DrpSimulator {
  readonly certificate: { cert: string; key: string } | null;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly auth: SimulatorAuth;
  private readonly now: () => number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly principal: string;
  private readonly demo = new DemoInventory();
  private readonly live = new Map<WebSocket, Connection>();
  private nextConnectionId = 1;
  private autoEmitTimer: NodeJS.Timeout | null = null;
  private issued = 0;
  private listeningPort = 0;

  constructor(private readonly options: DrpSimulatorOptions, certificate: { cert: string; key: string } | null) {
    super();
    this.certificate = certificate;
    this.now = options.now ?? Date.now;
    this.pingIntervalMs = options.pingIntervalMs ?? 54_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 60_000;
    this.principal = options.principal ?? 'user:rocketskates';
    this.auth = new SimulatorAuth(new Map(Object.entries(options.users ?? DEFAULT_DRP_USERS)), this.now);
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.handleRequest(req, res).catch(() => res.destroy());
    };
    this.server = certificate
      ? createHttpsServer({ cert: certificate.cert, key: certificate.key }, onRequest)
      : createHttpServer(onRequest);
    // DRP's read limit: ws closes the socket with 1009 (message too big) past maxPayload.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INBOUND_MESSAGE_BYTES });
    this.server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  get url(): string {
    return `${this.certificate ? 'https' : 'http'}://127.0.0.1:${this.listeningPort}`;
  }

  get port(): number {
    return this.listeningPort;
  }

  get tokensIssued(): number {
    return this.issued;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listeningPort = (this.server.address() as AddressInfo).port;
    const every = this.options.autoEmitEveryMs ?? 0;
    if (every > 0) this.autoEmitTimer = setInterval(() => this.emitDemoEvent(), every);
  }

  connections(): SimConnectionInfo[] {
    return [...this.live.values()].map((c) => ({
      id: c.id,
      user: c.user,
      authMethod: c.authMethod,
      registrations: c.registrations.list(),
    }));
  }

  totalRegistrations(): number {
    let total = 0;
    for (const c of this.live.values()) total += c.registrations.size;
    return total;
  }

  publish(partial: PublishedEvent): number {
    const event: DrpEvent = {
      Time: partial.Time || new Date(this.now()).toISOString(),
      Type: partial.Type,
      Action: partial.Action,
      Key: partial.Key,
      Principal: partial.Principal || this.principal,
      Object: partial.Object ?? null,
      Original: partial.Original ?? null,
    };
    const text = encodeEvent(event);
    let delivered = 0;
    for (const c of this.live.values()) {
      if (!c.registrations.wants(event)) continue;
      c.ws.send(text);
      delivered++;
    }
    return delivered;
  }

  emitObjectEvent(change: Omit<DrpObjectChange, 'original'> & { original?: unknown; principal?: string }): DrpEvent {
    const keepsOriginal = change.action === 'update' || change.action === 'save';
    const event: DrpEvent = {
      Time: new Date(this.now()).toISOString(),
      Type: change.type,
      Action: change.action,
      Key: change.key,
      Principal: change.principal ?? this.principal,
      Object: change.object,
      Original: keepsOriginal ? (change.original ?? change.object) : null,
    };
    this.publish(event);
    return event;
  }

  emitDemoEvent(): DrpEvent {
    return this.emitObjectEvent(this.demo.next());
  }

  issueToken(user: string, ttlSeconds: number): string {
    this.issued++;
    this.emit('token', { user, ttlSeconds });
    return this.auth.issueToken(user, ttlSeconds);
  }

  revokeAllTokens(): void {
    this.auth.revokeAllTokens();
  }

  kickAll(): void {
    for (const c of this.live.values()) c.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.autoEmitTimer) clearInterval(this.autoEmitTimer);
    this.autoEmitTimer = null;
    this.kickAll();
    this.wss.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive HTTP sockets (undici pools them) would hold close() open forever.
    this.server.closeAllConnections();
    await closed;
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://drp').pathname;
    if (path !== WS_PATH) {
      rejectUpgrade(socket, 404, errorBody('API_ERROR', 404, `no such path ${path}`));
      return;
    }
    const auth = this.auth.authenticate(req);
    if (!auth.ok) {
      this.emit('refused', { path, status: auth.status });
      rejectUpgrade(socket, auth.status, errorBody('AUTH', auth.status, auth.message));
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, auth));
  }

  private accept(ws: WebSocket, auth: Extract<AuthResult, { ok: true }>): void {
    const conn: Connection = {
      id: this.nextConnectionId++,
      ws,
      user: auth.user,
      authMethod: auth.method,
      registrations: new SocketRegistrations(),
      timers: [],
    };
    this.live.set(ws, conn);
    this.startKeepalive(conn);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.handleCommand(conn, data.toString());
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      for (const t of conn.timers) clearTimeout(t);
      this.live.delete(ws);
      this.emit('disconnect', conn.id);
    });
    this.emit('connection', { id: conn.id, user: conn.user, authMethod: conn.authMethod, registrations: [] });
  }

  /** gorilla's usual pattern: ping every pingPeriod, read deadline pongWait renewed by each pong. */
  private startKeepalive(conn: Connection): void {
    if (this.pingIntervalMs <= 0) return;
    const deadline = setTimeout(() => conn.ws.terminate(), this.pongTimeoutMs);
    const pinger = setInterval(() => conn.ws.ping(), this.pingIntervalMs);
    conn.ws.on('pong', () => deadline.refresh());
    conn.timers.push(deadline, pinger);
  }

  private handleCommand(conn: Connection, text: string): void {
    const command = readCommand(text);
    let outcome: SimCommandOutcome = 'ignored';
    if (command?.verb === 'register') {
      outcome = conn.registrations.register(command.filter);
      // The open v3 server treats a duplicate register as a no-op and sends no ack.
      if (outcome === 'registered') this.ack(conn, 'register', command.filter);
    } else if (command?.verb === 'deregister' && conn.registrations.deregister(command.filter)) {
      // Acknowledged even when the filter was not registered (unverified; the plausible reading of
      // "each command is acknowledged").
      this.ack(conn, 'deregister', command.filter);
      outcome = 'deregistered';
    }
    this.emit('command', { connectionId: conn.id, text, outcome });
  }

  private ack(conn: Connection, action: 'register' | 'deregister', filter: string): void {
    const ack: DrpEvent = {
      Time: new Date(this.now()).toISOString(),
      Type: ACK_TYPE,
      Action: action,
      Key: filter,
      Principal: `user:${conn.user}`,
      Object: null,
      Original: null,
    };
    conn.ws.send(encodeEvent(ack));
  }

  private async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://drp');
    const tokenRoute = /^\/api\/v3\/users\/([^/]+)\/token$/u.exec(url.pathname);
    const known = tokenRoute !== null || url.pathname === EVENTS_PATH || url.pathname === WS_PATH;
    if (!known) return sendJson(res, 404, errorBody('API_ERROR', 404, `no such path ${url.pathname}`));
    const auth = this.auth.authenticate(req);
    if (!auth.ok) {
      this.emit('refused', { path: url.pathname, status: auth.status });
      return sendJson(res, auth.status, errorBody('AUTH', auth.status, auth.message));
    }

    if (tokenRoute && req.method === 'GET') {
      const user = decodeURIComponent(tokenRoute[1]!);
      if (!this.auth.hasUser(user)) return sendJson(res, 404, errorBody('GET', 404, `user ${user} not found`));
      if (user !== auth.user) return sendJson(res, 403, errorBody('AUTH', 403, 'cannot issue a token for another user'));
      const ttlText = url.searchParams.get('ttl');
      const ttlSeconds = ttlText === null ? DEFAULT_TOKEN_TTL_SECONDS : Number(ttlText);
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
        return sendJson(res, 400, errorBody('GET', 400, 'ttl must be a positive number of seconds'));
      }
      const token = this.issueToken(user, ttlSeconds);
      // Info is DRP's server info object; these are a plausible subset of its fields (unverified names).
      return sendJson(res, 200, {
        Token: token,
        Info: { address: '127.0.0.1', api_port: this.listeningPort, arch: 'amd64', os: 'linux', version: 'v4.0.0-simulator', id: 'drp-simulator' },
      });
    }
    if (url.pathname === EVENTS_PATH && req.method === 'POST') {
      const event = readPostedEvent(await readBody(req).catch(() => ''));
      if (!event) return sendJson(res, 400, errorBody('POST', 400, 'body must be an event with Type, Action and Key'));
      this.publish({ ...event, Principal: event.Principal || `user:${auth.user}` });
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === WS_PATH) return sendJson(res, 400, errorBody('API_ERROR', 400, 'websocket upgrade required'));
    return sendJson(res, 405, errorBody('API_ERROR', 405, `method ${req.method ?? ''} not allowed`));
  }
}
