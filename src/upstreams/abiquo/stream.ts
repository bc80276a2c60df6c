/**
 * Outbound API consumer: `GET /m/stream` with the Atmosphere SSE parameters and an `action` filter,
 * as in seed 001. The stream has no server-side replay, so every (re)connect is reported through
 * `onConnected` and the owner resynchronises then. Reconnects back off with full jitter
 * (shared/backoff.ts); connection changes are published like every streaming upstream's
 * (shared/connection-state.ts).
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'undici';
import type { Dispatcher } from 'undici';
import type { AbiquoProviderConfig } from '../../config.js';
import {
  GatewayError,
  UpstreamAuthFailedError,
  UpstreamResponseError,
  UpstreamResponseTooLargeError,
  UpstreamTimeoutError,
  isGatewayError,
} from '../../errors.js';
import { reportUpstreamBound } from '../../observability/upstream-limits.js';
import type { PublishingUpstreamDeps, UpstreamDeps } from '../descriptor.js';
import { Backoff } from '../shared/backoff.js';
import { recordStreamReconnect } from '../../observability/tracing.js';
import { discardBody } from '../shared/bounded-request.js';
import { ConnectionState } from '../shared/connection-state.js';
import { TimerSlot } from '../shared/timers.js';
import { tlsSocketOptions } from '../shared/tls.js';
import { transportError } from '../shared/transport-errors.js';
import type { TlsOptions } from '../types.js';
import { abiquoAuthorization } from './client.js';
import { parseAbiquoEvent, type AbiquoEvent } from './events.js';
import { SseLimitError, SseParser, type SseLimits } from './sse.js';

/** The config fields the stream reads. */
export type AbiquoStreamConfig = Pick<
  AbiquoProviderConfig,
  'name' | 'url' | 'username' | 'password' | 'token' | 'tokenScheme' | 'events' | 'backoff' | 'timeouts'
>;

export interface AbiquoStreamHandlers {
  onEvent: (event: AbiquoEvent) => void;
  /** Called after every successful (re)connect: the moment to resynchronise. */
  onConnected?: () => void;
  /** Called when a connection ends or an attempt fails; null when the server simply ended the stream. */
  onDisconnected?: (error: GatewayError | null) => void;
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
  readonly #name: string;
  readonly #handlers: AbiquoStreamHandlers;
  readonly #deps: Pick<UpstreamDeps, 'logger' | 'clock'>;
  readonly #client: Client;
  readonly #path: string;
  readonly #authorization: string;
  readonly #actions: Set<string>;
  readonly #backoff: Backoff;
  readonly #reconnect: TimerSlot;
  readonly #connection: ConnectionState;
  readonly #limits: SseLimits;
  readonly #idleTimeoutMs: number;
  readonly #idle: TimerSlot;
  #abort: AbortController | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;
  #connects = 0;

  /** `random` pins the backoff jitter in tests. */
  constructor(
    config: AbiquoStreamConfig,
    tls: TlsOptions,
    deps: Pick<PublishingUpstreamDeps, 'logger' | 'clock' | 'events'>,
    handlers: AbiquoStreamHandlers,
    random?: () => number,
  ) {
    this.#name = config.name;
    this.#handlers = handlers;
    this.#deps = deps;
    this.#authorization = abiquoAuthorization(config);
    this.#actions = new Set(config.events.actions);
    this.#backoff = new Backoff({ ...config.backoff, ...(random ? { random } : {}) });
    this.#reconnect = new TimerSlot(deps.clock);
    this.#idle = new TimerSlot(deps.clock);
    this.#limits = { maxLineBytes: config.events.maxLineBytes, maxEventBytes: config.events.maxEventBytes };
    this.#idleTimeoutMs = config.events.idleTimeoutMs;
    this.#connection = new ConnectionState(config.name, 'abiquo', deps);
    // Absent means derived: the Outbound API lives beside the REST API, under the same origin.
    const url = new URL(config.events.url ?? `${new URL(config.url).origin}/m/stream`);
    // Atmosphere identifies a client by its tracking id; one per consumer, kept across reconnects.
    url.searchParams.set('X-Atmosphere-tracking-id', randomUUID());
    url.searchParams.set('X-Atmosphere-Framework', '1.0');
    url.searchParams.set('X-Atmosphere-Transport', 'sse');
    url.searchParams.set('Content-Type', 'application/json');
    if (this.#actions.size > 0) url.searchParams.set('action', [...this.#actions].join(','));
    this.#path = url.pathname + url.search;
    this.#client = new Client(url.origin, {
      connect: { timeout: config.timeouts.connectMs, ...tlsSocketOptions(tls) },
      headersTimeout: config.timeouts.requestMs,
      // An event stream is idle for as long as nothing happens upstream; events.idleTimeoutMs bounds it when set.
      bodyTimeout: 0,
    });
  }

  state(): AbiquoEventStreamState {
    return {
      connected: this.#connection.connected,
      connects: this.#connects,
      attempt: this.#backoff.attempt,
      lastError: this.#connection.lastError?.code ?? null,
    };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#reconnect.clear();
    this.#idle.clear();
    this.#abort?.abort();
    await this.#running;
    await this.#client.close().catch(() => undefined);
  }

  #connect(): void {
    const abort = new AbortController();
    this.#abort = abort;
    this.#running = this.#run(abort);
  }

  async #run(abort: AbortController): Promise<void> {
    let error: GatewayError | null = null;
    try {
      await this.#consume(abort);
    } catch (err) {
      if (!this.#stopped) error = isGatewayError(err) ? err : transportError(this.#name, err);
    }
    this.#idle.clear();
    const wasConnected = this.#connection.connected;
    // As DRP's socket: a stop while connected is a disconnect too.
    this.#connection.down(error);
    if (this.#stopped) return;
    if (error) {
      this.#deps.logger.warn({ code: error.code, reason: error.message }, 'abiquo event stream failed');
    } else if (wasConnected) {
      this.#deps.logger.info('abiquo event stream ended by the server');
    }
    this.#handlers.onDisconnected?.(error);
    const delayMs = this.#backoff.next();
    recordStreamReconnect('abiquo', this.#name, delayMs);
    this.#reconnect.set(delayMs, () => {
      if (!this.#stopped) this.#connect();
    });
  }

  async #consume(abort: AbortController): Promise<void> {
    const res: Dispatcher.ResponseData = await this.#client.request({
      method: 'GET',
      path: this.#path,
      headers: { accept: 'text/event-stream', authorization: this.#authorization },
      signal: abort.signal,
    });
    if (res.statusCode !== 200 || !/text\/event-stream/i.test(String(res.headers['content-type'] ?? ''))) {
      // Not read: an error page is not worth bytes, and its size is the peer's choice.
      discardBody(res.body);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new UpstreamAuthFailedError(this.#name, `HTTP ${res.statusCode} on the event stream`);
      }
      throw new UpstreamResponseError(this.#name, `the event stream answered HTTP ${res.statusCode}`, {
        status: res.statusCode,
      });
    }
    this.#connects++;
    this.#backoff.reset();
    this.#connection.up();
    this.#handlers.onConnected?.();
    const parser = new SseParser(this.#limits);
    let silence: GatewayError | null = null;
    const armIdle = (): void => {
      if (this.#idleTimeoutMs === 0) return;
      this.#idle.set(this.#idleTimeoutMs, () => {
        silence = this.#exceeded('stream_idle', new UpstreamTimeoutError(this.#name, 'sending anything on the event stream', this.#idleTimeoutMs, 'events.idleTimeoutMs'));
        abort.abort();
      });
    };
    armIdle();
    try {
      for await (const chunk of res.body) {
        armIdle();
        for (const message of this.#parse(parser, chunk as Buffer)) {
          // The first message after connecting is blank; Atmosphere may also pad with blank messages.
          const event = parseAbiquoEvent(message.data);
          if (event === null) continue;
          // The server filters by `action` too; filtering here keeps a server that ignores it harmless.
          if (this.#actions.size > 0 && !this.#actions.has(event.action)) continue;
          try {
            this.#handlers.onEvent(event);
          } catch (err) {
            this.#deps.logger.error({ err }, 'abiquo event handler threw');
          }
        }
      }
    } catch (err) {
      if (silence) throw silence;
      throw err;
    } finally {
      this.#idle.clear();
      // Whatever ended the loop (a cap, silence, a stop), nothing more of this body is read.
      discardBody(res.body);
    }
  }

  /** Feeds one chunk; a cap passed becomes UPSTREAM_RESPONSE_TOO_LARGE, which drops the stream. */
  #parse(parser: SseParser, chunk: Buffer): ReturnType<SseParser['push']> {
    try {
      return parser.push(chunk);
    } catch (err) {
      if (!(err instanceof SseLimitError)) throw err;
      const line = err.limit === 'line';
      throw this.#exceeded(
        line ? 'sse_line_bytes' : 'sse_event_bytes',
        new UpstreamResponseTooLargeError(this.#name, `an event-stream ${err.limit}`, err.bytes, line ? 'events.maxLineBytes' : 'events.maxEventBytes'),
      );
    }
  }

  #exceeded(bound: 'sse_line_bytes' | 'sse_event_bytes' | 'stream_idle', error: GatewayError): GatewayError {
    reportUpstreamBound(this.#name, bound);
    return error;
  }
}
