/**
 * The deadlines the shared ticker judges a console by, once a tick and never per chunk: the
 * handshake, the lifetime, input idle and byte idle. The session keeps the counters (bytes each way,
 * input messages); this keeps when each last moved, and says which deadline has passed.
 */

export type PassedDeadline = 'handshake' | 'lifetime' | 'inputIdle' | 'idle';

export interface DeadlineLimits {
  /** Until both handshakes are through (0 = none). */
  handshakeTimeoutMs: number;
  /** From the upgrade (0 = unlimited). */
  maxLifetimeMs: number;
  /** Without a keyboard, mouse or clipboard message from the browser (0 = off). */
  inputIdleTimeoutMs: number;
}

export class SessionDeadlines {
  readonly limits: DeadlineLimits;
  readonly #startedAtMs: number;
  #lastInputSeen = 0;
  #lastInputMs: number;
  #lastBytesSeen = 0;
  #lastActiveMs: number;

  constructor(startedAtMs: number, limits: DeadlineLimits) {
    this.limits = limits;
    this.#startedAtMs = startedAtMs;
    this.#lastInputMs = startedAtMs;
    this.#lastActiveMs = startedAtMs;
  }

  /**
   * The first deadline passed at `nowMs`, or null. `piping`: both handshakes are through;
   * `bytesSeen`: the bytes both ways so far; `inputSeen`: the input messages so far, asked only while
   * input idle is on; `idleTimeoutMs`: the byte-idle limit in force (a reload may change it; 0 = off).
   */
  passed(nowMs: number, piping: boolean, bytesSeen: number, inputSeen: () => number, idleTimeoutMs: number): PassedDeadline | null {
    const { handshakeTimeoutMs, maxLifetimeMs, inputIdleTimeoutMs } = this.limits;
    // Bytes flowing do not extend this one: a peer that floods during the handshake is still cut off.
    if (!piping && handshakeTimeoutMs > 0 && nowMs - this.#startedAtMs >= handshakeTimeoutMs) return 'handshake';
    if (maxLifetimeMs > 0 && nowMs - this.#startedAtMs >= maxLifetimeMs) return 'lifetime';
    if (inputIdleTimeoutMs > 0) {
      const input = inputSeen();
      if (input !== this.#lastInputSeen) {
        this.#lastInputSeen = input;
        this.#lastInputMs = nowMs;
      } else if (nowMs - this.#lastInputMs >= inputIdleTimeoutMs) {
        return 'inputIdle';
      }
    }
    if (bytesSeen !== this.#lastBytesSeen) {
      this.#lastBytesSeen = bytesSeen;
      this.#lastActiveMs = nowMs;
    } else if (idleTimeoutMs > 0 && nowMs - this.#lastActiveMs >= idleTimeoutMs) {
      return 'idle';
    }
    return null;
  }
}
