/**
 * RFB wire constants and small encoding helpers for the gateway's security handshakes (the simulated
 * VNC server in src/simulators/vnc/ reads the wire on its own). Source: RFC 6143 (RFB 3.8) and its
 * notes on 3.3/3.7.
 */
import { RfbError, RfbErrorCode } from './errors.js';

/** Protocol versions with distinct handshakes. Anything else maps onto one of these (RFC 6143 7.1.1). */
export type RfbVersion = '3.3' | '3.7' | '3.8';

/** Length of the `RFB xxx.yyy\n` banner. */
export const VERSION_BANNER_LENGTH = 12;

export const SecurityType = {
  /** In 3.3 a server sends 0 to say "connection failed", followed by a reason. */
  Invalid: 0,
  None: 1,
  VncAuthentication: 2,
} as const;

export const SecurityResult = { Ok: 0, Failed: 1 } as const;

/** VNC Authentication challenge and response length, bytes. */
export const VNC_CHALLENGE_LENGTH = 16;

export function versionBanner(version: RfbVersion): Buffer {
  return Buffer.from(version === '3.3' ? 'RFB 003.003\n' : version === '3.7' ? 'RFB 003.007\n' : 'RFB 003.008\n', 'latin1');
}

/**
 * Reads a 12-byte banner. Per RFC 6143 7.1.1 only 3.3, 3.7 and 3.8 are published; 3.5 (sent by some
 * old clients) is treated as 3.3, and anything newer within major 3 (Apple's 3.889) as 3.8.
 */
export function parseVersionBanner(banner: Buffer): RfbVersion {
  const match = /^RFB (\d{3})\.(\d{3})\n$/.exec(banner.toString('latin1'));
  if (!match) throw new RfbError(RfbErrorCode.Protocol, 'not an RFB version banner');
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major !== 3) throw new RfbError(RfbErrorCode.Protocol, `unsupported RFB version ${major}.${minor}`);
  if (minor >= 8) return '3.8';
  if (minor === 7) return '3.7';
  return '3.3';
}

export function u8(value: number): Buffer {
  return Buffer.from([value & 0xff]);
}

export function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value >>> 0);
  return buf;
}

/** A u32 length followed by the UTF-8 text, as RFB failure reasons are framed. */
export function lengthPrefixedString(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([u32(body.length), body]);
}

/**
 * Accumulates stream chunks so parsers can wait for whole fields: TCP may split a message across
 * chunks or coalesce several into one.
 */
export class ByteQueue {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  get length(): number {
    return this.#buffer.length;
  }

  /** The first `length` bytes without consuming them, or null if not all have arrived. */
  peek(length: number): Buffer | null {
    return this.#buffer.length >= length ? this.#buffer.subarray(0, length) : null;
  }

  /** Consumes and returns `length` bytes, or null (consuming nothing) if not all have arrived. */
  take(length: number): Buffer | null {
    if (this.#buffer.length < length) return null;
    const out = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(length);
    return out;
  }

  /** Everything still buffered; the queue is empty afterwards. */
  drain(): Buffer {
    const out = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return out;
  }
}

/**
 * A u32 length-prefixed string at the front of the queue: null while incomplete, consumed when whole.
 * `maxLength` bounds what a hostile peer can make us buffer.
 */
export function takeLengthPrefixedString(queue: ByteQueue, maxLength: number): string | null {
  const header = queue.peek(4);
  if (!header) return null;
  const length = header.readUInt32BE(0);
  if (length > maxLength) throw new RfbError(RfbErrorCode.Protocol, `string of ${length} bytes is too long`);
  const whole = queue.take(4 + length);
  return whole ? whole.subarray(4).toString('utf8') : null;
}
