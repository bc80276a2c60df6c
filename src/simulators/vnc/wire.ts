/**
 * The RFB wire as the simulated VNC server speaks it (server side of RFC 6143), kept apart from the
 * gateway's handshakes in src/rfb/ so that a misreading of the protocol on one side shows up as a
 * failing test instead of being shared by both. Only DES is shared (src/rfb/des.ts, which is checked
 * against published test vectors).
 */
import { VncSessionError, VncSessionFailure } from './errors.js';

/** The versions whose handshakes differ; a client may announce others, mapped per RFC 6143 7.1.1. */
export type ClientRfbVersion = '3.3' | '3.7' | '3.8';

/** `RFB 003.008\n`: the server offers the newest published version and lets the client pick. */
export const SERVER_VERSION_BANNER = Buffer.from('RFB 003.008\n', 'latin1');
export const VERSION_BANNER_BYTES = 12;

/** RFC 6143 7.2: the security types the simulator can offer. */
export const SECURITY_NONE = 1;
export const SECURITY_VNC_AUTH = 2;
/** SecurityResult word: 0 is OK, 1 failed. */
export const SECURITY_RESULT_OK = 0;
export const SECURITY_RESULT_FAILED = 1;
/** VNC Authentication challenge and response, bytes (RFC 6143 7.2.2). */
export const VNC_AUTH_CHALLENGE_BYTES = 16;

/** Client-to-server message types (RFC 6143 7.5). */
export const ClientMessage = {
  SetPixelFormat: 0,
  SetEncodings: 2,
  FramebufferUpdateRequest: 3,
  KeyEvent: 4,
  PointerEvent: 5,
  ClientCutText: 6,
} as const;

/** Server-to-client FramebufferUpdate (RFC 6143 7.6.1); the only server message the simulator sends. */
export const FRAMEBUFFER_UPDATE = 0;
/** The Raw encoding (RFC 6143 7.7.1), the one every client must accept. */
export const RAW_ENCODING = 0;

/**
 * The client's ProtocolVersion. 3.5 (some old clients) counts as 3.3, and a newer minor within major 3
 * (Apple's 3.889) as 3.8, as RFC 6143 7.1.1 advises.
 */
export function readClientVersion(banner: Buffer): ClientRfbVersion {
  const text = banner.toString('latin1');
  if (text.length !== VERSION_BANNER_BYTES || !text.startsWith('RFB ') || text[7] !== '.' || !text.endsWith('\n')) {
    throw new VncSessionError(VncSessionFailure.Protocol, 'the client did not send an RFB version banner');
  }
  const major = text.slice(4, 7);
  const minor = text.slice(8, 11);
  if (!/^\d{3}$/.test(major) || !/^\d{3}$/.test(minor)) {
    throw new VncSessionError(VncSessionFailure.Protocol, 'the client did not send an RFB version banner');
  }
  if (major !== '003') throw new VncSessionError(VncSessionFailure.Protocol, `RFB major version ${Number(major)} is not spoken here`);
  const minorNumber = Number(minor);
  return minorNumber >= 8 ? '3.8' : minorNumber === 7 ? '3.7' : '3.3';
}

export function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

/** RFB frames reason and name strings as a u32 byte count and the bytes. */
export function stringWithLength(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/**
 * Bytes received but not yet parsed. TCP (or a websockify bridge) splits and joins messages freely, so
 * each parse step waits until its whole field is here.
 */
export class ReceivedBytes {
  #pending: Buffer[] = [];
  #size = 0;

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#size += chunk.length;
  }

  /** The first `count` bytes, left in place; null until that many have arrived. */
  peek(count: number): Buffer | null {
    if (this.#size < count) return null;
    if (count === 0) return Buffer.alloc(0);
    this.#flatten();
    return this.#pending[0]!.subarray(0, count);
  }

  /** Removes and returns the first `count` bytes; null (removing nothing) until that many have arrived. */
  take(count: number): Buffer | null {
    const head = this.peek(count);
    if (!head || count === 0) return head;
    const whole = this.#pending[0]!;
    this.#pending = count === whole.length ? [] : [whole.subarray(count)];
    this.#size -= count;
    return head;
  }

  #flatten(): void {
    if (this.#pending.length > 1) this.#pending = [Buffer.concat(this.#pending)];
  }
}
