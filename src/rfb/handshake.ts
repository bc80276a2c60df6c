/**
 * Sans-IO RFB security handshakes for the gateway's console proxy. No sockets here: the proxy feeds
 * received bytes in and writes `send` out, so one side can be TCP and the other a WebSocket.
 *
 * Together they keep the VNC password away from the browser: the gateway authenticates to the VM's
 * VNC server itself (UpstreamVncAuthenticator) and offers the browser only "None"
 * (BrowserNoneSecurityServer). Everything after security (ClientInit, ServerInit, normal messages) is
 * the same in 3.3, 3.7 and 3.8, so once both report `done` the proxy can pipe bytes unchanged.
 */
import { vncAuthResponse } from './des.js';
import { RfbError, RfbErrorCode } from './errors.js';
import {
  ByteQueue,
  SecurityResult,
  SecurityType,
  VERSION_BANNER_LENGTH,
  VNC_CHALLENGE_LENGTH,
  lengthPrefixedString,
  parseVersionBanner,
  takeLengthPrefixedString,
  u32,
  u8,
  versionBanner,
} from './protocol.js';
import type { RfbVersion } from './protocol.js';

/** Longest failure reason we buffer from a peer, bytes. */
const MAX_REASON_LENGTH = 64 * 1024;

/** What one `feed` call produced. */
export interface HandshakeStep {
  /** Bytes to write to the peer, in order. */
  send: Buffer[];
  /** The security phase is over; from now on bytes pass through unchanged. */
  done: boolean;
  /** Bytes received after the handshake ended (e.g. a ClientInit that arrived in the same chunk). Empty until done. */
  rest: Buffer;
}

const EMPTY = Buffer.alloc(0);

export interface UpstreamVncAuthenticatorOptions {
  /**
   * VNC password for servers that require VNC Authentication. Only the first 8 bytes matter (RFB).
   * @default null (only servers offering None can be used)
   */
  password?: string | null;
}

type UpstreamState =
  | 'version'
  | 'security-types'
  | 'security-type-3.3'
  | 'refused-reason'
  | 'challenge'
  | 'security-result'
  | 'failure-reason'
  | 'done'
  | 'failed';

/**
 * The gateway as an RFB client towards a VM's VNC server, up to and including SecurityResult.
 * Prefers None when offered, else answers VNC Authentication with the configured password.
 * Throws RfbError on failure; the instance is unusable afterwards.
 */
export class UpstreamVncAuthenticator {
  readonly #password: string | null;
  readonly #queue = new ByteQueue();
  #state: UpstreamState = 'version';
  #version: RfbVersion | null = null;
  #securityType: number | null = null;

  constructor(options: UpstreamVncAuthenticatorOptions = {}) {
    this.#password = options.password ?? null;
  }

  /** The version agreed with the server, once its banner has been read. */
  get version(): RfbVersion | null {
    return this.#version;
  }

  /** The security type in use (1 None, 2 VNC Authentication), once chosen. */
  get securityType(): number | null {
    return this.#securityType;
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  feed(chunk: Buffer): HandshakeStep {
    if (this.#state === 'done') return { send: [], done: true, rest: chunk };
    if (this.#state === 'failed') throw new RfbError(RfbErrorCode.Protocol, 'handshake already failed');
    this.#queue.push(chunk);
    const send: Buffer[] = [];
    try {
      while (this.#step(send)) {
        // each step consumed a whole field; loop until one needs more bytes
      }
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
    return this.done ? { send, done: true, rest: this.#queue.drain() } : { send, done: false, rest: EMPTY };
  }

  /** Handles one field if it is complete; returns false when more bytes are needed (or when done). */
  #step(send: Buffer[]): boolean {
    switch (this.#state) {
      case 'version': {
        const banner = this.#queue.take(VERSION_BANNER_LENGTH);
        if (!banner) return false;
        this.#version = parseVersionBanner(banner);
        send.push(versionBanner(this.#version));
        this.#state = this.#version === '3.3' ? 'security-type-3.3' : 'security-types';
        return true;
      }
      case 'security-types': {
        const count = this.#queue.peek(1)?.[0];
        if (count === undefined) return false;
        if (count === 0) {
          this.#queue.take(1);
          this.#state = 'refused-reason';
          return true;
        }
        const list = this.#queue.take(1 + count);
        if (!list) return false;
        const offered = [...list.subarray(1)];
        const chosen = this.#choose(offered);
        send.push(u8(chosen));
        this.#afterChoice(chosen);
        return true;
      }
      case 'security-type-3.3': {
        const field = this.#queue.take(4);
        if (!field) return false;
        const type = field.readUInt32BE(0);
        if (type === SecurityType.Invalid) {
          this.#state = 'refused-reason';
          return true;
        }
        this.#afterChoice(this.#choose([type]));
        return true;
      }
      case 'refused-reason': {
        const reason = takeLengthPrefixedString(this.#queue, MAX_REASON_LENGTH);
        if (reason === null) return false;
        throw new RfbError(RfbErrorCode.ServerRefused, reason || 'the VNC server refused the connection');
      }
      case 'challenge': {
        const challenge = this.#queue.take(VNC_CHALLENGE_LENGTH);
        if (!challenge) return false;
        // #choose only picks VNC Authentication when a password is set.
        send.push(vncAuthResponse(this.#password ?? '', challenge));
        this.#state = 'security-result';
        return true;
      }
      case 'security-result': {
        const field = this.#queue.take(4);
        if (!field) return false;
        if (field.readUInt32BE(0) === SecurityResult.Ok) {
          this.#state = 'done';
          return false;
        }
        // Only 3.8 follows a failed SecurityResult with a reason string.
        if (this.#version === '3.8') {
          this.#state = 'failure-reason';
          return true;
        }
        throw new RfbError(RfbErrorCode.AuthFailed, 'the VNC server rejected authentication');
      }
      case 'failure-reason': {
        const reason = takeLengthPrefixedString(this.#queue, MAX_REASON_LENGTH);
        if (reason === null) return false;
        throw new RfbError(RfbErrorCode.AuthFailed, reason || 'the VNC server rejected authentication');
      }
      case 'done':
      case 'failed':
        return false;
    }
  }

  #choose(offered: number[]): number {
    if (offered.includes(SecurityType.None)) return SecurityType.None;
    if (offered.includes(SecurityType.VncAuthentication)) {
      if (this.#password === null) {
        throw new RfbError(RfbErrorCode.PasswordRequired, 'the VNC server requires a password and none is configured');
      }
      return SecurityType.VncAuthentication;
    }
    throw new RfbError(
      RfbErrorCode.UnsupportedSecurity,
      `the VNC server offers only unsupported security types [${offered.join(', ')}]`,
    );
  }

  #afterChoice(type: number): void {
    this.#securityType = type;
    if (type === SecurityType.VncAuthentication) this.#state = 'challenge';
    // None: 3.8 still sends a SecurityResult; 3.3 and 3.7 go straight to ClientInit.
    else this.#state = this.#version === '3.8' ? 'security-result' : 'done';
  }
}

type BrowserState = 'version' | 'security-choice' | 'done' | 'failed';

/**
 * The gateway as an RFB server towards the browser, offering only security type None.
 * Call `start()` once and send its bytes, then `feed` whatever the browser sends.
 */
export class BrowserNoneSecurityServer {
  readonly #queue = new ByteQueue();
  #state: BrowserState = 'version';
  #version: RfbVersion | null = null;

  /** The version the browser chose, once its banner has been read. */
  get version(): RfbVersion | null {
    return this.#version;
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  /** The server speaks first: our version banner. */
  start(): Buffer {
    return versionBanner('3.8');
  }

  feed(chunk: Buffer): HandshakeStep {
    if (this.#state === 'done') return { send: [], done: true, rest: chunk };
    if (this.#state === 'failed') throw new RfbError(RfbErrorCode.Protocol, 'handshake already failed');
    this.#queue.push(chunk);
    const send: Buffer[] = [];
    try {
      this.#advance(send);
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
    return this.done ? { send, done: true, rest: this.#queue.drain() } : { send, done: false, rest: EMPTY };
  }

  #advance(send: Buffer[]): void {
    if (this.#state === 'version') {
      const banner = this.#queue.take(VERSION_BANNER_LENGTH);
      if (!banner) return;
      this.#version = parseVersionBanner(banner);
      if (this.#version === '3.3') {
        // 3.3: the server decides; with None there is no SecurityResult.
        send.push(u32(SecurityType.None));
        this.#state = 'done';
        return;
      }
      send.push(Buffer.from([1, SecurityType.None]));
      this.#state = 'security-choice';
    }
    if (this.#state === 'security-choice') {
      const choice = this.#queue.take(1);
      if (!choice) return;
      if (choice[0] !== SecurityType.None) {
        const reason = 'security type not offered';
        const reply = this.#version === '3.8' ? [u32(SecurityResult.Failed), lengthPrefixedString(reason)] : [];
        const message = `the client chose security type ${choice[0]}, which was not offered`;
        throw new RfbError(RfbErrorCode.UnsupportedSecurity, message, reply);
      }
      // 3.7 sends no SecurityResult for None; 3.8 always does.
      if (this.#version === '3.8') send.push(u32(SecurityResult.Ok));
      this.#state = 'done';
    }
  }
}
