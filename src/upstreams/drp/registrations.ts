/**
 * DRP event registrations, as pure bookkeeping: no sockets here. Registrations are reference-counted
 * per filter so DRP only sends what somebody listens to, and a filter is never registered twice on one
 * connection (DRP does not acknowledge a duplicate `register`). Acks are matched to commands by verb
 * and filter, oldest first. DRP forgets a socket's registrations with the socket, so every held
 * filter is registered again after a reconnect (`connected()`).
 */
import type { Clock } from '../../clock.js';
import { UpstreamUnavailableError } from '../../errors.js';
import type { DrpCommandVerb } from './wire.js';

/** Acks are matched FIFO per filter; a server that never acks must not grow this without bound. */
const MAX_INFLIGHT_PER_FILTER = 16;

export interface DrpRegistrationsOptions {
  /** Provider name, for errors. */
  name: string;
  /** How long to wait for DRP to acknowledge a command, in ms. */
  ackTimeoutMs: number;
  clock: Clock;
  /** Sends one command on the open socket; false when there is none (then nothing was sent). */
  send: (verb: DrpCommandVerb, filter: string) => boolean;
  /** A `register` was not acknowledged in time while connected. */
  onAckTimeout: (error: UpstreamUnavailableError) => void;
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

export class DrpRegistrations {
  readonly #opts: DrpRegistrationsOptions;
  readonly #registrations = new Map<string, Registration>();
  #inflight = new Map<string, InflightCommand[]>();
  #connected = false;

  constructor(opts: DrpRegistrationsOptions) {
    this.#opts = opts;
  }

  /** Filters with at least one holder, sorted. */
  filters(): string[] {
    return [...this.#registrations.keys()].sort();
  }

  /**
   * Holds a registration for `filter`; the first holder sends `register`. Resolves once DRP has
   * acknowledged it, or rejects with UPSTREAM_UNAVAILABLE after ackTimeoutMs. Either way the hold
   * stays (it is registered again after every reconnect) until the matching release().
   */
  async acquire(filter: string): Promise<void> {
    let registration = this.#registrations.get(filter);
    if (!registration) {
      registration = { filter, refs: 0, confirmed: false, waiters: new Set() };
      this.#registrations.set(filter, registration);
    }
    registration.refs++;
    if (registration.refs === 1) this.#register(registration);
    if (registration.confirmed) return;
    await this.#waitForConfirmation(registration);
  }

  /**
   * Gives up one hold; the last one sends `deregister`. Resolves when DRP acknowledges it, when there
   * is no connection to deregister on, or after ackTimeoutMs. Never rejects.
   */
  async release(filter: string): Promise<void> {
    const registration = this.#registrations.get(filter);
    if (!registration) return;
    registration.refs--;
    if (registration.refs > 0) return;
    this.#registrations.delete(filter);
    this.#settle(registration, new UpstreamUnavailableError(this.#opts.name, `registration ${filter} was released`));
    if (!this.#connected) return;
    const { clock, ackTimeoutMs } = this.#opts;
    await new Promise<void>((resolve) => {
      const timer = clock.setTimeout(resolve, ackTimeoutMs);
      this.#send('deregister', filter, {
        verb: 'deregister',
        onAck: () => {
          clock.clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** A socket is open: register every held filter on it. */
  connected(): void {
    this.#connected = true;
    for (const registration of this.#registrations.values()) this.#register(registration);
  }

  /** The socket is gone, and DRP's registrations with it: nothing in flight will be acknowledged. */
  disconnected(): void {
    this.#connected = false;
    const inflight = this.#inflight;
    this.#inflight = new Map();
    for (const commands of inflight.values()) for (const command of commands) command.onAck?.();
    for (const registration of this.#registrations.values()) registration.confirmed = false;
  }

  /** An acknowledgement from DRP (`websocket` event: Action is the verb, Key the filter). */
  ack(verb: string, filter: string): void {
    const commands = this.#inflight.get(filter);
    const index = commands?.findIndex((c) => c.verb === verb) ?? -1;
    if (!commands || index < 0) return;
    const [command] = commands.splice(index, 1);
    if (commands.length === 0) this.#inflight.delete(filter);
    command?.onAck?.();
    const registration = command?.registration;
    // An ack for a registration released meanwhile belongs to nobody.
    if (registration && this.#registrations.get(filter) === registration) {
      registration.confirmed = true;
      this.#settle(registration);
    }
  }

  /** Fails every pending acquire() with `error` (the client is closing). */
  failAll(error: Error): void {
    for (const registration of this.#registrations.values()) this.#settle(registration, error);
  }

  #register(registration: Registration): void {
    registration.confirmed = false;
    if (this.#connected) this.#send('register', registration.filter, { verb: 'register', registration });
  }

  #send(verb: DrpCommandVerb, filter: string, command: InflightCommand): void {
    if (!this.#opts.send(verb, filter)) return;
    let commands = this.#inflight.get(filter);
    if (!commands) this.#inflight.set(filter, (commands = []));
    commands.push(command);
    if (commands.length > MAX_INFLIGHT_PER_FILTER) commands.shift()?.onAck?.();
  }

  #waitForConfirmation(registration: Registration): Promise<void> {
    const { clock, ackTimeoutMs, name } = this.#opts;
    return new Promise<void>((resolve, reject) => {
      const waiter = (err?: Error): void => {
        clock.clearTimeout(timer);
        registration.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const timer = clock.setTimeout(() => {
        const reason = this.#connected
          ? `no acknowledgement of register ${registration.filter} within ${ackTimeoutMs} ms`
          : `not connected; register ${registration.filter} will be sent on reconnect`;
        const err = new UpstreamUnavailableError(name, reason);
        if (this.#connected) this.#opts.onAckTimeout(err);
        waiter(err);
      }, ackTimeoutMs);
      registration.waiters.add(waiter);
    });
  }

  #settle(registration: Registration, err?: Error): void {
    for (const waiter of [...registration.waiters]) waiter(err);
  }
}
