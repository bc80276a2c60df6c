/**
 * One long-lived connection to a DRP endpoint's event socket (`/api/v3/ws`), shared by every gateway
 * subscriber of that provider. Registrations are reference-counted per filter so DRP only sends what
 * somebody is listening to, and the client never sends a duplicate `register` (DRP would not
 * acknowledge it). The connection survives DRP restarts: reconnect with backoff, re-register, resume.
 */
import type { Logger } from 'pino';
import { Agent } from 'undici';
import WebSocket from 'ws';
import { ConfigError, ErrorCode, GatewayError, UpstreamAuthFailedError, UpstreamResponseError, UpstreamUnavailableError } from '../../errors.js';
import { formatEventPattern, type EventPattern } from '../../events/pattern.js';
import type { EventPublisher } from '../../events/types.js';
import type { TlsOptions } from '../types.js';
import { Backoff } from './backoff.js';
import { normaliseDrpEvent } from './normalise.js';
import { fetchDrpToken, networkReason, type DrpToken } from './token.js';
import { DRP_ACK_TYPE, DRP_WS_PATH, asDrpEvent, formatCommand, type DrpCommandVerb } from './wire.js';

export type TimerHandle = unknown;

/** Timer functions, injectable so tests can drive time. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface DrpConnectionChange {
  provider: string;
  connected: boolean;
  /** Why the connection went down (secret-free), when it did. */
  error: string | null;
}

export interface DrpEventClientOptions {
  /** Provider name from config; stamped on every event and error. */
  name: string;
  /** Base URL of the DRP API, `https://host:8092` (http for tests). */
  url: string;
  /** A long-lived token, or a user whose password is exchanged for short-lived tokens. */
  auth: { token: string } | { username: string; password: string };
  tls?: TlsOptions;
  /** How long to wait for DRP to acknowledge `register`/`deregister`, in ms. Default: 5000. */
  ackTimeoutMs?: number;
  /** WebSocket handshake timeout, in ms. Default: 10000. */
  connectTimeoutMs?: number;
  /** Reconnect delays: exponential with full jitter, in ms. Default: { initialMs: 500, maxMs: 30000 }. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Uniform random in [0, 1) for jitter. Default: Math.random. */
  random?: () => number;
  /** Lifetime requested for password-derived tokens, in seconds; refreshed at half-life. Default: 3600. */
  tokenTtlSeconds?: number;
  /**
   * How often DRP pings, in ms. No ping or data for twice this long means the server is dead and the
   * client reconnects; 0 turns this detection off. Default: 54000 (DRP's ping period).
   */
  serverPingIntervalMs?: number;
  /** Where normalised events go (the gateway's bus). */
  publisher: EventPublisher;
  /** Where connection changes and failures are logged; the gateway passes one already bound to the provider name. */
  logger?: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** Clock, epoch ms. Default: Date.now. */
  now?: () => number;
  /** Default: the global setTimeout/clearTimeout. */
  timers?: Timers;
  /** Called on every connected <-> disconnected transition (for GATEWAY events). */
  onConnectionChange?: (change: DrpConnectionChange) => void;
}

export interface DrpClientState {
  connected: boolean;
  /** ISO time of the last event received (acks excluded). */
  lastEventAt: string | null;
  /** Filters with at least one holder, sorted. */
  registrations: string[];
  /** Latest connection or registration failure, secret-free; cleared on a successful connect. */
  lastError: string | null;
  /** The GatewayError code of lastError (UPSTREAM_AUTH_FAILED when DRP refused the credentials). */
  lastErrorCode: ErrorCode | null;
}

interface Registration {
  filter: string;
  refs: number;
  /** DRP acknowledged it on the current connection. */
  confirmed: boolean;
  /** Pending acquire() calls: called with nothing on confirmation, with an error to give up. */
  waiters: Set<(err?: Error) => void>;
}

/** A command sent on the current connection, waiting for its ack. */
interface InflightCommand {
  verb: DrpCommandVerb;
  registration?: Registration;
  onAck?: () => void;
}

/** Acks are matched FIFO per filter; a server that never acks must not grow this without bound. */
const MAX_INFLIGHT_PER_FILTER = 16;
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class DrpEventClient {
  readonly name: string;
  private readonly wsUrl: string;
  private readonly baseUrl: string;
  private readonly ackTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly tokenTtlSeconds: number;
  private readonly idleTimeoutMs: number;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly dispatcher: Agent;

  private readonly registrations = new Map<string, Registration>();
  private inflight = new Map<string, InflightCommand[]>();
  private socket: WebSocket | null = null;
  private connected = false;
  private started = false;
  private closed = false;
  private reconnectTimer: TimerHandle | null = null;
  private idleTimer: TimerHandle | null = null;
  private refreshTimer: TimerHandle | null = null;
  private lastActivityMs = 0;
  private lastEventAt: string | null = null;
  private lastError: GatewayError | null = null;
  /** Why the current socket is failing, once known; recorded when it closes. */
  private socketFailure: GatewayError | null = null;
  private token: DrpToken | null = null;
  private tokenFetch: Promise<string> | null = null;

  constructor(private readonly options: DrpEventClientOptions) {
    this.name = options.name;
    const base = new URL(options.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ConfigError([`DRP provider "${options.name}": url must start with https:// (or http://)`]);
    }
    this.baseUrl = base.origin;
    this.wsUrl = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}${DRP_WS_PATH}`;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.idleTimeoutMs = 2 * (options.serverPingIntervalMs ?? 54_000);
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
    this.backoff = new Backoff({ ...options.reconnect, random: options.random });
    this.dispatcher = new Agent({
      connect: this.tlsConnectOptions(),
      headersTimeout: this.connectTimeoutMs,
      bodyTimeout: this.connectTimeoutMs,
    });
  }

  /** Opens the connection (idempotent). Failures are retried in the background; see state(). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  state(): DrpClientState {
    return {
      connected: this.connected,
      lastEventAt: this.lastEventAt,
      registrations: [...this.registrations.keys()].sort(),
      lastError: this.lastError?.message ?? null,
      lastErrorCode: this.lastError?.code ?? null,
    };
  }

  /**
   * Holds a registration for `pattern`; the first holder sends `register`. Resolves once DRP has
   * acknowledged it, or rejects with UPSTREAM_UNAVAILABLE after ackTimeoutMs. Either way the hold
   * stays (the client registers again after every reconnect) until the matching release().
   */
  async acquire(pattern: EventPattern): Promise<void> {
    if (this.closed) throw new UpstreamUnavailableError(this.name, 'the event client is closed');
    const filter = formatEventPattern(pattern);
    let registration = this.registrations.get(filter);
    if (!registration) {
      registration = { filter, refs: 0, confirmed: false, waiters: new Set() };
      this.registrations.set(filter, registration);
    }
    registration.refs++;
    if (registration.refs === 1) this.sendRegister(registration);
    if (registration.confirmed) return;
    await this.waitForConfirmation(registration);
  }

  /**
   * Gives up one hold; the last one sends `deregister`. Resolves when DRP acknowledges it, when there
   * is no connection to deregister on, or after ackTimeoutMs. Never rejects.
   */
  async release(pattern: EventPattern): Promise<void> {
    const filter = formatEventPattern(pattern);
    const registration = this.registrations.get(filter);
    if (!registration) return;
    registration.refs--;
    if (registration.refs > 0) return;
    this.registrations.delete(filter);
    this.settleWaiters(registration, new UpstreamUnavailableError(this.name, `registration ${filter} was released`));
    if (!this.connected) return;
    await new Promise<void>((resolve) => {
      const timer = this.timers.setTimeout(resolve, this.ackTimeoutMs);
      this.sendCommand('deregister', filter, {
        verb: 'deregister',
        onAck: () => {
          this.timers.clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Stops reconnecting, closes the socket and fails pending acquire() calls. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [this.reconnectTimer, this.idleTimer, this.refreshTimer]) {
      if (timer !== null) this.timers.clearTimeout(timer);
    }
    this.reconnectTimer = this.idleTimer = this.refreshTimer = null;
    const closedError = new UpstreamUnavailableError(this.name, 'the event client is closed');
    for (const registration of this.registrations.values()) this.settleWaiters(registration, closedError);
    const socket = this.socket;
    if (socket) {
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.terminate();
      await gone;
    }
    await this.dispatcher.close();
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.closed) return;
    let bearer: string;
    try {
      bearer = await this.bearerToken();
    } catch (err) {
      this.recordError(err);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) return;
    const ws = new WebSocket(this.wsUrl, {
      headers: { Authorization: `Bearer ${bearer}` },
      handshakeTimeout: this.connectTimeoutMs,
      maxPayload: MAX_EVENT_BYTES,
      ...this.tlsConnectOptions(),
    });
    this.socket = ws;
    this.socketFailure = null;

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (status === 401 || status === 403) {
        this.socketFailure = new UpstreamAuthFailedError(this.name, `HTTP ${status} from ${DRP_WS_PATH}`);
        // The token may have expired or been revoked (DRP restarted): get a fresh one next time.
        this.token = null;
      } else {
        this.socketFailure = new UpstreamResponseError(this.name, `HTTP ${status} from ${DRP_WS_PATH}`, { status });
      }
      ws.terminate();
    });
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(data.toString());
    });
    ws.on('ping', () => {
      this.lastActivityMs = this.now();
    });
    ws.on('error', (err) => {
      this.socketFailure ??= new UpstreamUnavailableError(this.name, `event socket failed (${networkReason(err)})`);
    });
    ws.on('close', (code) => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (!this.closed) this.recordError(this.socketFailure ?? new UpstreamUnavailableError(this.name, `event socket closed (code ${code})`));
      this.onDisconnected();
      this.scheduleReconnect();
    });
  }

  private onOpen(ws: WebSocket): void {
    if (this.socket !== ws) return;
    this.connected = true;
    this.lastError = null;
    this.backoff.reset();
    this.lastActivityMs = this.now();
    if (this.idleTimeoutMs > 0) this.armIdleTimer(this.idleTimeoutMs);
    this.options.logger?.info('DRP event socket connected');
    this.options.onConnectionChange?.({ provider: this.name, connected: true, error: null });
    for (const registration of this.registrations.values()) this.sendRegister(registration);
  }

  private onDisconnected(): void {
    if (this.idleTimer !== null) this.timers.clearTimeout(this.idleTimer);
    this.idleTimer = null;
    // DRP forgets a socket's registrations with the socket; they are sent again on the next one.
    for (const commands of this.inflight.values()) for (const command of commands) command.onAck?.();
    this.inflight = new Map();
    for (const registration of this.registrations.values()) registration.confirmed = false;
    if (!this.connected) return;
    this.connected = false;
    const error = this.lastError?.message ?? null;
    this.options.logger?.warn({ error }, 'DRP event socket disconnected');
    this.options.onConnectionChange?.({ provider: this.name, connected: false, error });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.timers.setTimeout(() => void this.connect(), delay);
  }

  private onMessage(text: string): void {
    this.lastActivityMs = this.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const event = asDrpEvent(parsed);
    if (!event) {
      this.options.logger?.debug('ignoring a DRP message that is not an event');
      return;
    }
    if (event.Type === DRP_ACK_TYPE) {
      this.onAck(event.Action, event.Key);
      return;
    }
    const input = normaliseDrpEvent(this.name, event, this.lastActivityMs);
    this.lastEventAt = new Date(this.lastActivityMs).toISOString();
    try {
      this.options.publisher.publish(input);
    } catch (err) {
      this.options.logger?.warn({ err }, 'publishing a DRP event failed');
    }
  }

  private onAck(action: string, filter: string): void {
    const commands = this.inflight.get(filter);
    const index = commands?.findIndex((c) => c.verb === action) ?? -1;
    if (!commands || index < 0) return;
    const [command] = commands.splice(index, 1);
    if (commands.length === 0) this.inflight.delete(filter);
    command?.onAck?.();
    const registration = command?.registration;
    // An ack for a registration released meanwhile belongs to nobody.
    if (registration && this.registrations.get(filter) === registration) {
      registration.confirmed = true;
      this.settleWaiters(registration);
    }
  }

  private sendRegister(registration: Registration): void {
    registration.confirmed = false;
    if (!this.connected) return;
    this.sendCommand('register', registration.filter, { verb: 'register', registration });
  }

  private sendCommand(verb: DrpCommandVerb, filter: string, command: InflightCommand): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    let commands = this.inflight.get(filter);
    if (!commands) this.inflight.set(filter, (commands = []));
    commands.push(command);
    if (commands.length > MAX_INFLIGHT_PER_FILTER) commands.shift()?.onAck?.();
    socket.send(formatCommand(verb, filter));
  }

  private waitForConfirmation(registration: Registration): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = (err?: Error): void => {
        this.timers.clearTimeout(timer);
        registration.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const timer = this.timers.setTimeout(() => {
        const reason = this.connected
          ? `no acknowledgement of register ${registration.filter} within ${this.ackTimeoutMs} ms`
          : `not connected; register ${registration.filter} will be sent on reconnect`;
        const err = new UpstreamUnavailableError(this.name, reason);
        if (this.connected) this.recordError(err);
        waiter(err);
      }, this.ackTimeoutMs);
      registration.waiters.add(waiter);
    });
  }

  private settleWaiters(registration: Registration, err?: Error): void {
    for (const waiter of [...registration.waiters]) waiter(err);
  }

  /** Dead-server detection without a timer per message: check the last activity when the timer fires. */
  private armIdleTimer(ms: number): void {
    this.idleTimer = this.timers.setTimeout(() => {
      this.idleTimer = null;
      const socket = this.socket;
      if (!socket || !this.connected) return;
      const idle = this.now() - this.lastActivityMs;
      if (idle < this.idleTimeoutMs) {
        this.armIdleTimer(this.idleTimeoutMs - idle);
        return;
      }
      this.socketFailure = new UpstreamUnavailableError(this.name, `no ping or data for ${idle} ms`);
      socket.terminate();
    }, ms);
  }

  private async bearerToken(): Promise<string> {
    const { auth } = this.options;
    if ('token' in auth) return auth.token;
    const token = this.token;
    if (token && this.now() < token.expiresAtMs) return token.value;
    return this.refreshToken();
  }

  /** One token request at a time; on success the next refresh is scheduled at half-life. */
  private refreshToken(): Promise<string> {
    const { auth } = this.options;
    if ('token' in auth) return Promise.resolve(auth.token);
    this.tokenFetch ??= fetchDrpToken({
      provider: this.name,
      baseUrl: this.baseUrl,
      username: auth.username,
      password: auth.password,
      ttlSeconds: this.tokenTtlSeconds,
      dispatcher: this.dispatcher,
      now: this.now,
    })
      .then((token) => {
        this.token = token;
        this.scheduleRefresh((token.expiresAtMs - token.issuedAtMs) / 2);
        return token.value;
      })
      .catch((err: unknown) => {
        // Retry well before the current token (if any) runs out; the connect loop also retries.
        if (this.token) this.scheduleRefresh(Math.max(1000, (this.token.expiresAtMs - this.now()) / 4));
        throw err;
      })
      .finally(() => {
        this.tokenFetch = null;
      });
    return this.tokenFetch;
  }

  private scheduleRefresh(ms: number): void {
    if (this.closed) return;
    if (this.refreshTimer !== null) this.timers.clearTimeout(this.refreshTimer);
    this.refreshTimer = this.timers.setTimeout(() => {
      this.refreshTimer = null;
      this.refreshToken().catch((err: unknown) => this.recordError(err));
    }, ms);
  }

  private recordError(err: unknown): void {
    const error =
      err instanceof GatewayError ? err : new UpstreamUnavailableError(this.name, networkReason(err), { cause: err });
    this.lastError = error;
    this.options.logger?.warn({ code: error.code, error: error.message }, 'DRP event client error');
  }

  private tlsConnectOptions(): { ca?: string; rejectUnauthorized: boolean } {
    const tls = this.options.tls ?? {};
    return tls.insecure ? { rejectUnauthorized: false } : { ca: tls.ca, rejectUnauthorized: true };
  }
}
