/**
 * Outbound API consumer: `GET /m/stream` with the Atmosphere SSE parameters and an `action` filter,
 * as in seed 001. The stream has no server-side replay, so every (re)connect is reported through
 * `onConnected` and the owner resynchronises then. Reconnects back off exponentially with full
 * jitter (delay = random() * min(max, initial * 2^attempt)), with random and timers injectable.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'undici';
import type { Dispatcher } from 'undici';
import { GatewayError, UpstreamAuthFailedError, UpstreamResponseError, isGatewayError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { transportError } from '../http-errors.js';
import type { TlsOptions } from '../types.js';
import { authorizationHeader, type AbiquoAuth } from './client.js';
import { parseAbiquoEvent, type AbiquoEvent } from './events.js';
import { SseParser } from './sse.js';
import { realTimers, type TimerHandle, type Timers } from './timers.js';

export const DEFAULT_STREAM_ACTIONS = ['DEPLOY', 'UNDEPLOY', 'DEPLOY_FINISH', 'UNDEPLOY_FINISH'] as const;

export interface AbiquoEventStreamOptions {
  /** Provider name, for errors and logs. */
  name: string;
  /** Stream URL, e.g. `https://abiquo.example/m/stream` (query parameters are added). */
  url: string;
  auth: AbiquoAuth;
  /** Outbound API `action` filter. @default ['DEPLOY','UNDEPLOY','DEPLOY_FINISH','UNDEPLOY_FINISH'] */
  actions?: readonly string[];
  onEvent: (event: AbiquoEvent) => void;
  /** Called after every successful (re)connect: the moment to resynchronise. */
  onConnected?: () => void;
  /** Called when a connection ends or an attempt fails; null when the server simply ended the stream. */
  onDisconnected?: (error: GatewayError | null) => void;
  /** First reconnect delay ceiling in milliseconds. @default 1000 */
  initialBackoffMs?: number;
  /** Largest reconnect delay ceiling in milliseconds. @default 60000 */
  maxBackoffMs?: number;
  /** Uniform random in [0, 1). @default Math.random */
  random?: () => number;
  timers?: Timers;
  tls?: TlsOptions;
  /** Milliseconds to connect. @default 5000 */
  connectTimeoutMs?: number;
  /** Milliseconds to wait for the response headers. @default 15000 */
  headersTimeoutMs?: number;
  logger?: Logger;
}

export interface AbiquoEventStreamState {
  connected: boolean;
  /** Successful connections so far. */
  connects: number;
  /** Failed attempts since the last successful connect. */
  attempt: number;
  /** Code of the last failure, or null. */
  lastError: string | null;
}

export class AbiquoEventStream {
  readonly #opts: AbiquoEventStreamOptions;
  readonly #client: Client;
  readonly #path: string;
  readonly #authorization: string;
  readonly #actions: Set<string>;
  readonly #timers: Timers;
  readonly #random: () => number;
  #abort: AbortController | null = null;
  #reconnectTimer: TimerHandle | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;
  #state: AbiquoEventStreamState = { connected: false, connects: 0, attempt: 0, lastError: null };

  constructor(opts: AbiquoEventStreamOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
    this.#random = opts.random ?? Math.random;
    this.#authorization = authorizationHeader(opts.auth);
    this.#actions = new Set(opts.actions ?? DEFAULT_STREAM_ACTIONS);
    const url = new URL(opts.url);
    // Atmosphere identifies a client by its tracking id; one per consumer, kept across reconnects.
    url.searchParams.set('X-Atmosphere-tracking-id', randomUUID());
    url.searchParams.set('X-Atmosphere-Framework', '1.0');
    url.searchParams.set('X-Atmosphere-Transport', 'sse');
    url.searchParams.set('Content-Type', 'application/json');
    if (this.#actions.size > 0) url.searchParams.set('action', [...this.#actions].join(','));
    this.#path = url.pathname + url.search;
    this.#client = new Client(url.origin, {
      connect: {
        timeout: opts.connectTimeoutMs ?? 5_000,
        ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}),
        ...(opts.tls?.insecure ? { rejectUnauthorized: false } : {}),
      },
      headersTimeout: opts.headersTimeoutMs ?? 15_000,
      // An event stream is idle for as long as nothing happens upstream.
      bodyTimeout: 0,
    });
  }

  state(): AbiquoEventStreamState {
    return { ...this.#state };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reconnectTimer !== null) this.#timers.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#abort?.abort();
    await this.#running;
    await this.#client.close().catch(() => undefined);
  }

  #connect(): void {
    this.#reconnectTimer = null;
    const abort = new AbortController();
    this.#abort = abort;
    this.#running = this.#run(abort.signal);
  }

  async #run(signal: AbortSignal): Promise<void> {
    let error: GatewayError | null = null;
    try {
      await this.#consume(signal);
    } catch (err) {
      if (this.#stopped) return;
      error = isGatewayError(err) ? err : transportError(this.#opts.name, err);
    }
    const wasConnected = this.#state.connected;
    this.#state.connected = false;
    if (this.#stopped) return;
    if (error) {
      this.#state.lastError = error.code;
      this.#opts.logger?.warn({ code: error.code, reason: error.message }, 'abiquo event stream failed');
    } else if (wasConnected) {
      this.#opts.logger?.info('abiquo event stream ended by the server');
    }
    this.#opts.onDisconnected?.(error);
    this.#scheduleReconnect();
  }

  async #consume(signal: AbortSignal): Promise<void> {
    const res: Dispatcher.ResponseData = await this.#client.request({
      method: 'GET',
      path: this.#path,
      headers: { accept: 'text/event-stream', authorization: this.#authorization },
      signal,
    });
    if (res.statusCode !== 200 || !/text\/event-stream/i.test(String(res.headers['content-type'] ?? ''))) {
      await res.body.text().catch(() => undefined);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new UpstreamAuthFailedError(this.#opts.name, `HTTP ${res.statusCode} on the event stream`);
      }
      throw new UpstreamResponseError(this.#opts.name, `the event stream answered HTTP ${res.statusCode}`, {
        status: res.statusCode,
      });
    }
    this.#state = { ...this.#state, connected: true, connects: this.#state.connects + 1, attempt: 0, lastError: null };
    this.#opts.onConnected?.();
    const parser = new SseParser();
    for await (const chunk of res.body) {
      for (const message of parser.push(chunk as Buffer)) {
        // The first message after connecting is blank; Atmosphere may also pad with blank messages.
        const event = parseAbiquoEvent(message.data);
        if (event === null) continue;
        // The server filters by `action` too; filtering here keeps a server that ignores it harmless.
        if (this.#actions.size > 0 && !this.#actions.has(event.action)) continue;
        try {
          this.#opts.onEvent(event);
        } catch (err) {
          this.#opts.logger?.error({ err }, 'abiquo event handler threw');
        }
      }
    }
  }

  #scheduleReconnect(): void {
    const initial = this.#opts.initialBackoffMs ?? 1_000;
    const max = this.#opts.maxBackoffMs ?? 60_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.#state.attempt, 30));
    const delay = Math.floor(this.#random() * ceiling);
    this.#state.attempt++;
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      if (!this.#stopped) this.#connect();
    }, delay);
  }
}
