/**
 * The connection state of a streaming upstream (DRP's event socket, Abiquo's Outbound API stream):
 * what the `upstreams` query shows, and the `upstreams.connected.<name>` /
 * `upstreams.disconnected.<name>` GATEWAY events, published once per transition for every kind alike.
 */
import type { Clock } from '../../clock.js';
import type { GatewayError } from '../../errors.js';
import { publishUpstreamChange } from '../../events/gateway-events.js';
import type { EventPublisher } from '../../events/types.js';
import type { ProviderKind } from '../types.js';

export class ConnectionState {
  readonly #name: string;
  readonly #kind: ProviderKind;
  readonly #events: EventPublisher;
  readonly #clock: Pick<Clock, 'now'>;
  #connected = false;
  #lastError: GatewayError | null = null;

  constructor(name: string, kind: ProviderKind, deps: { events: EventPublisher; clock: Pick<Clock, 'now'> }) {
    this.#name = name;
    this.#kind = kind;
    this.#events = deps.events;
    this.#clock = deps.clock;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The latest failure, secret-free; cleared by a successful connect. */
  get lastError(): GatewayError | null {
    return this.#lastError;
  }

  /** The connection is up: the last error is cleared and `connected` published if it was down. */
  up(): void {
    this.#lastError = null;
    if (this.#connected) return;
    this.#connected = true;
    this.#publish();
  }

  /** Record a failure that is not (yet) a transition: a refused attempt, an unacknowledged command. */
  fail(error: GatewayError): void {
    this.#lastError = error;
  }

  /** The connection is down: records `error` (when given) and publishes `disconnected` if it was up. */
  down(error: GatewayError | null = null): void {
    if (error) this.#lastError = error;
    if (!this.#connected) return;
    this.#connected = false;
    this.#publish();
  }

  #publish(): void {
    publishUpstreamChange(this.#events, {
      provider: this.#name,
      kind: this.#kind,
      connected: this.#connected,
      error: this.#connected ? null : (this.#lastError?.message ?? null),
      atMs: this.#clock.now(),
    });
  }
}
