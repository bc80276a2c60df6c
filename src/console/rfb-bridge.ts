/**
 * The gateway's part in a console whose VNC server wants a password the browser must never see:
 * it authenticates upstream itself (VNC Authentication) and offers the browser security type
 * None. Both handshakes run side by side over the session's two connections; once both are
 * through, the bytes that follow are the same RFB stream on both sides and the session pipes them
 * unchanged. Sans-IO apart from the two send callbacks: the session owns the sockets.
 */
import { BrowserNoneSecurityServer, UpstreamVncAuthenticator } from '../rfb/handshake.js';
import { RfbErrorCode, isRfbError } from '../rfb/errors.js';
import { ConsoleCloseCode } from '../websocket-codes.js';

export interface RfbBridgeSides {
  /** Bytes for the browser: the None-security handshake, or a failure reason it can show. */
  toClient(chunk: Buffer): void;
  /** Bytes for the VNC server: the version and the VNC Authentication answer. */
  toUpstream(chunk: Buffer): void;
}

/** A handshake that cannot go on: close the session with `closeCode`. `error` is for the log (its code only). */
export interface RfbBridgeFailure {
  side: 'upstream' | 'client';
  closeCode: number;
  error: unknown;
  /**
   * The VNC server's own words for a refusal or a failed authentication (RFB failure reason), raw:
   * the session sanitises and shortens it before it goes anywhere. null when the server gave none.
   */
  upstreamReason: string | null;
}

export class RfbBridge {
  /** Bytes that came after the upstream's handshake ended (e.g. ServerInit), held for the browser until both are through. */
  readonly pendingForClient: Buffer[] = [];
  /** Bytes that came after the browser's handshake ended (e.g. ClientInit), held for the upstream. */
  readonly pendingForUpstream: Buffer[] = [];
  readonly #upstream: UpstreamVncAuthenticator;
  readonly #browser = new BrowserNoneSecurityServer();
  readonly #sides: RfbBridgeSides;

  constructor(password: string, sides: RfbBridgeSides) {
    this.#upstream = new UpstreamVncAuthenticator({ password });
    this.#sides = sides;
  }

  /** Both handshakes are through: the session may pipe (the pending bytes first). */
  get done(): boolean {
    return this.#upstream.done && this.#browser.done;
  }

  /** The VNC server's side is through: what it sends now waits in `pendingForClient`. */
  get upstreamDone(): boolean {
    return this.#upstream.done;
  }

  /** The browser's side is through: what it sends now waits in `pendingForUpstream`. */
  get browserDone(): boolean {
    return this.#browser.done;
  }

  /** Bytes waiting in the pending queues (the session caps them: `console.maxHeldBytes`). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }
  #pendingBytes = 0;

  /** The browser-facing side speaks first (its ProtocolVersion). */
  start(): void {
    this.#sides.toClient(this.#browser.start());
  }

  fromUpstream(chunk: Buffer): RfbBridgeFailure | null {
    try {
      const step = this.#upstream.feed(chunk);
      for (const out of step.send) this.#sides.toUpstream(out);
      if (step.done && step.rest.length > 0) {
        this.pendingForClient.push(step.rest);
        this.#pendingBytes += step.rest.length;
      }
      return null;
    } catch (error) {
      const closeCode = isRfbError(error)
        ? error.code === RfbErrorCode.AuthFailed || error.code === RfbErrorCode.PasswordRequired
          ? ConsoleCloseCode.UpstreamAuthFailed
          : error.code === RfbErrorCode.ServerRefused
            ? ConsoleCloseCode.UpstreamRefused
            : ConsoleCloseCode.UpstreamProtocolError
        : ConsoleCloseCode.InternalError;
      const fromPeer = isRfbError(error) && (error.code === RfbErrorCode.ServerRefused || error.code === RfbErrorCode.AuthFailed);
      return { side: 'upstream', closeCode, error, upstreamReason: fromPeer ? error.reason : null };
    }
  }

  fromClient(chunk: Buffer): RfbBridgeFailure | null {
    try {
      const step = this.#browser.feed(chunk);
      for (const out of step.send) this.#sides.toClient(out);
      if (step.done && step.rest.length > 0) {
        this.pendingForUpstream.push(step.rest);
        this.#pendingBytes += step.rest.length;
      }
      return null;
    } catch (error) {
      // The browser is told why in RFB terms (a failure reason) before the WebSocket closes.
      if (isRfbError(error)) for (const out of error.reply) this.#sides.toClient(out);
      return { side: 'client', closeCode: isRfbError(error) ? ConsoleCloseCode.ClientRfbError : ConsoleCloseCode.InternalError, error, upstreamReason: null };
    }
  }
}
