/**
 * One long-lived connection to a DRP endpoint's event socket (`/api/v3/ws`), shared by every gateway
 * subscriber of that provider: the socket's lifecycle (connect with a bearer token, reconnect with
 * backoff, dead-server detection) and the events it carries. What is registered lives in
 * registrations.ts, tokens in token-refresh.ts. The connection survives DRP restarts: reconnect,
 * re-register, resume.
 */
import { Agent } from 'undici';
import WebSocket from 'ws';
import type { DrpProviderConfig } from '../../config.js';
import {
  ConfigError,
  ErrorCode,
  GatewayError,
  UpstreamAuthFailedError,
  UpstreamResponseError,
  UpstreamResponseTooLargeError,
  UpstreamUnavailableError,
} from '../../errors.js';
import { reportUpstreamBound } from '../../observability/upstream-limits.js';
import { formatEventPattern, type EventPattern } from '../../events/pattern.js';
import type { PublishingUpstreamDeps } from '../descriptor.js';
import { tokenAuthorization } from '../shared/auth-headers.js';
import { Backoff } from '../shared/backoff.js';
import { recordStreamReconnect } from '../../observability/tracing.js';
import { ConnectionState } from '../shared/connection-state.js';
import { TimerSlot } from '../shared/timers.js';
import { tlsSocketOptions } from '../shared/tls.js';
import { transportError } from '../shared/transport-errors.js';
import type { TlsOptions } from '../types.js';
import { normaliseDrpEvent } from './normalise.js';
import { DrpRegistrations } from './registrations.js';
import { DrpTokenSource } from './token-refresh.js';
import { DRP_ACK_TYPE, DRP_WS_PATH, asDrpEvent, formatCommand } from './wire.js';

/** The config fields the client reads. */
export type DrpClientConfig = Pick<
  DrpProviderConfig,
  'name' | 'url' | 'token' | 'username' | 'password' | 'ackTimeoutMs' | 'connectTimeoutMs' | 'reconnect' | 'tokenTtlSeconds' | 'serverPingIntervalMs' | 'limits'
>;

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

export class DrpEventClient {
  readonly name: string;
  readonly #deps: Pick<PublishingUpstreamDeps, 'logger' | 'clock' | 'events'>;
  readonly #wsUrl: string;
  readonly #tls: TlsOptions;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #maxMessageBytes: number;
  /** Messages on the current socket that were not events; only the first of each socket is logged. */
  #malformed = 0;
  /** The bearer token for the next connection: the configured one, or one exchanged for the password. */
  readonly #bearer: () => Promise<string>;
  /** Password-derived tokens; null with a configured token. */
  readonly #tokens: DrpTokenSource | null;
  readonly #dispatcher: Agent;
  readonly #backoff: Backoff;
  readonly #reconnect: TimerSlot;
  readonly #idle: TimerSlot;
  readonly #connection: ConnectionState;
  readonly #registrations: DrpRegistrations;

  #socket: WebSocket | null = null;
  #started = false;
  #closed = false;
  #lastActivityMs = 0;
  #lastEventAt: string | null = null;
  /** Why the current socket is failing, once known; recorded when it closes. */
  #socketFailure: GatewayError | null = null;

  /** `random` pins the backoff jitter in tests. */
  constructor(config: DrpClientConfig, tls: TlsOptions, deps: Pick<PublishingUpstreamDeps, 'logger' | 'clock' | 'events'>, random?: () => number) {
    this.name = config.name;
    this.#deps = deps;
    const base = new URL(config.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ConfigError([`DRP provider "${config.name}": url must start with https:// (or http://)`]);
    }
    this.#wsUrl = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}${DRP_WS_PATH}`;
    this.#tls = tls;
    this.#connectTimeoutMs = config.connectTimeoutMs;
    this.#idleTimeoutMs = 2 * config.serverPingIntervalMs;
    this.#maxMessageBytes = config.limits.maxMessageBytes;
    this.#backoff = new Backoff({ ...config.reconnect, ...(random ? { random } : {}) });
    this.#reconnect = new TimerSlot(deps.clock);
    this.#idle = new TimerSlot(deps.clock);
    this.#connection = new ConnectionState(config.name, 'drp', deps);
    this.#dispatcher = new Agent({
      connect: tlsSocketOptions(tls),
      headersTimeout: config.connectTimeoutMs,
      bodyTimeout: config.connectTimeoutMs,
    });
    const { token } = config;
    if (token !== undefined) {
      this.#tokens = null;
      this.#bearer = () => Promise.resolve(token);
    } else if (config.username !== undefined && config.password !== undefined) {
      const tokens = new DrpTokenSource({
        name: config.name,
        baseUrl: base.origin,
        username: config.username,
        password: config.password,
        ttlSeconds: config.tokenTtlSeconds,
        dispatcher: this.#dispatcher,
        bounds: {
          deadlineMs: config.connectTimeoutMs,
          deadlineKey: 'connectTimeoutMs',
          maxBytes: config.limits.maxResponseBytes,
          maxBytesKey: 'limits.maxResponseBytes',
        },
        clock: deps.clock,
        onRefreshError: (err) => this.#recordError(err),
      });
      this.#tokens = tokens;
      this.#bearer = () => tokens.bearer();
    } else {
      throw new TypeError(`drp provider "${config.name}" needs a token or a username and password`);
    }
    this.#registrations = new DrpRegistrations({
      name: config.name,
      ackTimeoutMs: config.ackTimeoutMs,
      clock: deps.clock,
      send: (verb, filter) => {
        const socket = this.#socket;
        if (!socket || socket.readyState !== WebSocket.OPEN) return false;
        socket.send(formatCommand(verb, filter));
        return true;
      },
      onAckTimeout: (err) => this.#recordError(err),
    });
  }

  /** Opens the connection (idempotent). Failures are retried in the background; see state(). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connect();
  }

  state(): DrpClientState {
    const lastError = this.#connection.lastError;
    return {
      connected: this.#connection.connected,
      lastEventAt: this.#lastEventAt,
      registrations: this.#registrations.filters(),
      lastError: lastError?.message ?? null,
      lastErrorCode: lastError?.code ?? null,
    };
  }

  /** See DrpRegistrations.acquire. */
  async acquire(pattern: EventPattern): Promise<void> {
    if (this.#closed) throw new UpstreamUnavailableError(this.name, 'the event client is closed');
    await this.#registrations.acquire(formatEventPattern(pattern));
  }

  /** See DrpRegistrations.release. */
  release(pattern: EventPattern): Promise<void> {
    return this.#registrations.release(formatEventPattern(pattern));
  }

  /** Stops reconnecting, closes the socket and fails pending acquire() calls. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reconnect.clear();
    this.#idle.clear();
    this.#tokens?.close();
    this.#registrations.failAll(new UpstreamUnavailableError(this.name, 'the event client is closed'));
    const socket = this.#socket;
    if (socket) {
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.terminate();
      await gone;
    }
    await this.#dispatcher.close();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    let bearer: string;
    try {
      bearer = await this.#bearer();
    } catch (err) {
      this.#recordError(err);
      this.#scheduleReconnect();
      return;
    }
    if (this.#closed) return;
    const ws = new WebSocket(this.#wsUrl, {
      headers: { Authorization: tokenAuthorization(bearer, 'Bearer') },
      handshakeTimeout: this.#connectTimeoutMs,
      // limits.maxMessageBytes: ws stops reading a larger frame and closes with 1009.
      maxPayload: this.#maxMessageBytes,
      ...tlsSocketOptions(this.#tls),
    });
    this.#socket = ws;
    this.#socketFailure = null;
    this.#malformed = 0;

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (status === 401 || status === 403) {
        this.#socketFailure = new UpstreamAuthFailedError(this.name, `HTTP ${status} from ${DRP_WS_PATH}`);
        // The token may have expired or been revoked (DRP restarted): get a fresh one next time.
        this.#tokens?.invalidate();
      } else {
        this.#socketFailure = new UpstreamResponseError(this.name, `HTTP ${status} from ${DRP_WS_PATH}`, { status });
      }
      ws.terminate();
    });
    ws.on('open', () => this.#onOpen(ws));
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.#onMalformed('a binary message');
      else this.#onMessage(data.toString());
    });
    ws.on('ping', () => {
      this.#lastActivityMs = this.#deps.clock.now();
    });
    ws.on('error', (err) => {
      if ((err as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        reportUpstreamBound(this.name, 'message_bytes');
        this.#socketFailure ??= new UpstreamResponseTooLargeError(this.name, 'an event-socket message', this.#maxMessageBytes, 'limits.maxMessageBytes');
        return;
      }
      this.#socketFailure ??= transportError(this.name, err, 'event socket failed');
    });
    ws.on('close', (code) => {
      if (this.#socket !== ws) return;
      this.#socket = null;
      if (!this.#closed) this.#recordError(this.#socketFailure ?? new UpstreamUnavailableError(this.name, `event socket closed (code ${code})`));
      this.#onDisconnected();
      this.#scheduleReconnect();
    });
  }

  #onOpen(ws: WebSocket): void {
    if (this.#socket !== ws) return;
    this.#backoff.reset();
    this.#lastActivityMs = this.#deps.clock.now();
    if (this.#idleTimeoutMs > 0) this.#armIdleTimer(this.#idleTimeoutMs);
    this.#deps.logger.info('DRP event socket connected');
    this.#connection.up();
    this.#registrations.connected();
  }

  #onDisconnected(): void {
    this.#idle.clear();
    this.#registrations.disconnected();
    if (!this.#connection.connected) return;
    this.#deps.logger.warn({ error: this.#connection.lastError?.message ?? null }, 'DRP event socket disconnected');
    this.#connection.down();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delayMs = this.#backoff.next();
    recordStreamReconnect('drp', this.name, delayMs);
    this.#reconnect.setIfIdle(delayMs, () => void this.#connect());
  }

  #onMessage(text: string): void {
    this.#lastActivityMs = this.#deps.clock.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const event = asDrpEvent(parsed);
    if (!event) {
      this.#onMalformed('a message that is not an event');
      return;
    }
    if (event.Type === DRP_ACK_TYPE) {
      this.#registrations.ack(event.Action, event.Key);
      return;
    }
    const input = normaliseDrpEvent(this.name, event, this.#lastActivityMs);
    this.#lastEventAt = new Date(this.#lastActivityMs).toISOString();
    try {
      this.#deps.events.publish(input);
    } catch (err) {
      this.#deps.logger.warn({ err }, 'publishing a DRP event failed');
    }
  }

  /**
   * A frame that is not an event is dropped: it costs only its own (capped) size, so the socket
   * stays up. Counted every time; logged once per socket so a flood of them cannot flood the log.
   */
  #onMalformed(what: string): void {
    this.#lastActivityMs = this.#deps.clock.now();
    reportUpstreamBound(this.name, 'malformed_message');
    if (this.#malformed++ === 0) this.#deps.logger.warn({ what }, 'ignoring DRP messages that are not events (logged once per connection)');
  }

  /** Dead-server detection without a timer per message: check the last activity when the timer fires. */
  #armIdleTimer(ms: number): void {
    this.#idle.set(ms, () => {
      const socket = this.#socket;
      if (!socket || !this.#connection.connected) return;
      const idle = this.#deps.clock.now() - this.#lastActivityMs;
      if (idle < this.#idleTimeoutMs) {
        this.#armIdleTimer(this.#idleTimeoutMs - idle);
        return;
      }
      this.#socketFailure = new UpstreamUnavailableError(this.name, `no ping or data for ${idle} ms`);
      socket.terminate();
    });
  }

  #recordError(err: unknown): void {
    const error = err instanceof GatewayError ? err : transportError(this.name, err);
    this.#connection.fail(error);
    this.#deps.logger.warn({ code: error.code, error: error.message }, 'DRP event client error');
  }
}
