/**
 * One client connection of the simulated VNC server, as a sans-IO state machine: bytes in through
 * `feed`, bytes out through the `send` callback. The server owns the framebuffer and the sockets.
 */
import { timingSafeEqual } from 'node:crypto';
import { vncAuthResponse } from '../../rfb/des.js';
import { clipRect, unionRect } from './draw.js';
import type { Rect } from './draw.js';
import { VncSessionError, VncSessionFailure } from './errors.js';
import type { Framebuffer, SentState } from './framebuffer.js';
import { DEFAULT_PIXEL_FORMAT, PIXEL_FORMAT_LENGTH, PixelEncoder, decodePixelFormat, encodePixelFormat } from './pixel-format.js';
import {
  ClientMessage,
  FRAMEBUFFER_UPDATE,
  RAW_ENCODING,
  ReceivedBytes,
  SECURITY_NONE,
  SECURITY_RESULT_FAILED,
  SECURITY_RESULT_OK,
  SECURITY_VNC_AUTH,
  SERVER_VERSION_BANNER,
  VERSION_BANNER_BYTES,
  VNC_AUTH_CHALLENGE_BYTES,
  readClientVersion,
  stringWithLength,
  uint32,
} from './wire.js';
import type { ClientRfbVersion } from './wire.js';

/** Input a client sent to the console. */
export type RfbInputEvent =
  | { type: 'key'; down: boolean; keysym: number }
  | { type: 'pointer'; mask: number; x: number; y: number }
  | { type: 'cutText'; text: string };

/** Largest ClientCutText we accept, bytes; a longer one closes the connection. */
export const MAX_CLIENT_CUT_TEXT = 1024 * 1024;

/** Above this many changed rectangles, one bounding rectangle is cheaper than the per-rect headers. */
const MAX_RECTS_PER_UPDATE = 256;

export interface RfbServerSessionOptions {
  framebuffer: Framebuffer;
  /** Desktop name sent in ServerInit. */
  name: string;
  /** When set, only VNC Authentication is offered; else only None. */
  password: string | null;
  randomBytes: (size: number) => Buffer;
  /** Writes bytes to the client, in order. */
  send: (chunks: Buffer[]) => void;
  onInput: (event: RfbInputEvent) => void;
}

type SessionState = 'version' | 'security-choice' | 'vnc-response' | 'client-init' | 'normal' | 'failed';

export class RfbServerSession {
  readonly #options: RfbServerSessionOptions;
  readonly #queue = new ReceivedBytes();
  readonly #sent: SentState;
  #state: SessionState = 'version';
  #version: ClientRfbVersion = '3.8';
  #challenge: Buffer | null = null;
  #encoder = new PixelEncoder(DEFAULT_PIXEL_FORMAT);
  /** An incremental update request waiting for something in it to change. */
  #pending: Rect | null = null;
  #encodings: number[] = [];

  constructor(options: RfbServerSessionOptions) {
    this.#options = options;
    this.#sent = options.framebuffer.newSentState();
  }

  /** True once ServerInit has been sent. */
  get ready(): boolean {
    return this.#state === 'normal';
  }

  /** The encodings the client listed in its last SetEncodings (informational; only Raw is used). */
  get encodings(): readonly number[] {
    return this.#encodings;
  }

  start(): void {
    this.#options.send([SERVER_VERSION_BANNER]);
  }

  /** Handles received bytes. Throws VncSessionError on a protocol or auth failure: send `reply`, then close. */
  feed(chunk: Buffer): void {
    if (this.#state === 'failed') return;
    this.#queue.append(chunk);
    try {
      while (this.#step()) {
        // one complete field or message per step
      }
    } catch (err) {
      this.#state = 'failed';
      this.#pending = null;
      throw err;
    }
  }

  /** The shared framebuffer changed: answer a held incremental request if it now has something to send. */
  framebufferChanged(): void {
    if (this.#state === 'normal') this.#servePending();
  }

  #step(): boolean {
    switch (this.#state) {
      case 'version':
        return this.#readVersion();
      case 'security-choice':
        return this.#readSecurityChoice();
      case 'vnc-response':
        return this.#readVncResponse();
      case 'client-init':
        return this.#readClientInit();
      case 'normal':
        return this.#readMessage();
      case 'failed':
        return false;
    }
  }

  #readVersion(): boolean {
    const banner = this.#queue.take(VERSION_BANNER_BYTES);
    if (!banner) return false;
    this.#version = readClientVersion(banner);
    const offered = this.#options.password === null ? SECURITY_NONE : SECURITY_VNC_AUTH;
    if (this.#version === '3.3') {
      // 3.3: the server decides and sends the type as a u32.
      this.#options.send([uint32(offered)]);
      this.#afterSecurityChosen(offered);
    } else {
      this.#options.send([Buffer.from([1, offered])]);
      this.#state = 'security-choice';
    }
    return true;
  }

  #readSecurityChoice(): boolean {
    const choice = this.#queue.take(1)?.[0];
    if (choice === undefined) return false;
    const offered = this.#options.password === null ? SECURITY_NONE : SECURITY_VNC_AUTH;
    if (choice !== offered) {
      throw new VncSessionError(
        VncSessionFailure.SecurityNotOffered,
        `client chose security type ${choice}, which was not offered`,
        this.#failureReply('security type not offered'),
      );
    }
    if (choice === SECURITY_NONE && this.#version === '3.8') this.#options.send([uint32(SECURITY_RESULT_OK)]);
    this.#afterSecurityChosen(choice);
    return true;
  }

  #afterSecurityChosen(type: number): void {
    if (type === SECURITY_VNC_AUTH) {
      this.#challenge = this.#options.randomBytes(VNC_AUTH_CHALLENGE_BYTES);
      this.#options.send([this.#challenge]);
      this.#state = 'vnc-response';
    } else {
      this.#state = 'client-init';
    }
  }

  #readVncResponse(): boolean {
    const response = this.#queue.take(VNC_AUTH_CHALLENGE_BYTES);
    if (!response) return false;
    const expected = vncAuthResponse(this.#options.password ?? '', this.#challenge!);
    this.#challenge = null;
    if (!timingSafeEqual(response, expected)) {
      throw new VncSessionError(VncSessionFailure.AuthFailed, 'wrong VNC password', this.#failureReply('authentication failed'));
    }
    this.#options.send([uint32(SECURITY_RESULT_OK)]);
    this.#state = 'client-init';
    return true;
  }

  /** A failed SecurityResult; only 3.8 carries a reason string. */
  #failureReply(reason: string): Buffer[] {
    return this.#version === '3.8' ? [uint32(SECURITY_RESULT_FAILED), stringWithLength(reason)] : [uint32(SECURITY_RESULT_FAILED)];
  }

  #readClientInit(): boolean {
    // The shared flag is ignored: every connection shares the one console, like QEMU's default.
    if (!this.#queue.take(1)) return false;
    const { framebuffer, name } = this.#options;
    const header = Buffer.alloc(4);
    header.writeUInt16BE(framebuffer.width, 0);
    header.writeUInt16BE(framebuffer.height, 2);
    this.#options.send([header, encodePixelFormat(DEFAULT_PIXEL_FORMAT), stringWithLength(name)]);
    this.#state = 'normal';
    return true;
  }

  #readMessage(): boolean {
    const type = this.#queue.peek(1)?.[0];
    switch (type) {
      case undefined:
        return false;
      case ClientMessage.SetPixelFormat: {
        const message = this.#queue.take(4 + PIXEL_FORMAT_LENGTH);
        if (!message) return false;
        this.#encoder = new PixelEncoder(decodePixelFormat(message.subarray(4)));
        return true;
      }
      case ClientMessage.SetEncodings: {
        const header = this.#queue.peek(4);
        if (!header) return false;
        const message = this.#queue.take(4 + 4 * header.readUInt16BE(2));
        if (!message) return false;
        this.#encodings = [];
        for (let offset = 4; offset < message.length; offset += 4) this.#encodings.push(message.readInt32BE(offset));
        return true;
      }
      case ClientMessage.FramebufferUpdateRequest: {
        const message = this.#queue.take(10);
        if (!message) return false;
        const rect = {
          x: message.readUInt16BE(2),
          y: message.readUInt16BE(4),
          width: message.readUInt16BE(6),
          height: message.readUInt16BE(8),
        };
        this.#handleUpdateRequest(message[1] !== 0, rect);
        return true;
      }
      case ClientMessage.KeyEvent: {
        const message = this.#queue.take(8);
        if (!message) return false;
        this.#options.onInput({ type: 'key', down: message[1] !== 0, keysym: message.readUInt32BE(4) });
        return true;
      }
      case ClientMessage.PointerEvent: {
        const message = this.#queue.take(6);
        if (!message) return false;
        this.#options.onInput({ type: 'pointer', mask: message[1]!, x: message.readUInt16BE(2), y: message.readUInt16BE(4) });
        return true;
      }
      case ClientMessage.ClientCutText: {
        const header = this.#queue.peek(8);
        if (!header) return false;
        // A negative length is the Extended Clipboard form; its payload is |length| bytes.
        const length = Math.abs(header.readInt32BE(4));
        if (length > MAX_CLIENT_CUT_TEXT) {
          throw new VncSessionError(VncSessionFailure.Protocol, `ClientCutText of ${length} bytes is too long`);
        }
        const message = this.#queue.take(8 + length);
        if (!message) return false;
        if (header.readInt32BE(4) >= 0) this.#options.onInput({ type: 'cutText', text: message.subarray(8).toString('latin1') });
        return true;
      }
      default:
        // Message lengths depend on the type, so after an unknown one the stream cannot be resynchronised.
        throw new VncSessionError(VncSessionFailure.Protocol, `unknown client message type ${type}`);
    }
  }

  #handleUpdateRequest(incremental: boolean, requested: Rect): void {
    const area = clipRect(this.#options.framebuffer, requested);
    if (!incremental) {
      this.#sendUpdate(area.width > 0 && area.height > 0 ? [area] : []);
      return;
    }
    this.#pending = this.#pending ? unionRect(this.#pending, area) : area;
    this.#servePending();
  }

  #servePending(): void {
    if (!this.#pending) return;
    const rects = this.#options.framebuffer.changedRects(this.#sent, this.#pending);
    if (rects.length === 0) return;
    this.#pending = null;
    this.#sendUpdate(rects.length > MAX_RECTS_PER_UPDATE ? [rects.reduce(unionRect)] : rects);
  }

  #sendUpdate(rects: Rect[]): void {
    const { framebuffer } = this.#options;
    const header = Buffer.alloc(4);
    header.writeUInt8(FRAMEBUFFER_UPDATE, 0);
    header.writeUInt16BE(rects.length, 2);
    const chunks: Buffer[] = [header];
    for (const rect of rects) {
      const rectHeader = Buffer.alloc(12);
      rectHeader.writeUInt16BE(rect.x, 0);
      rectHeader.writeUInt16BE(rect.y, 2);
      rectHeader.writeUInt16BE(rect.width, 4);
      rectHeader.writeUInt16BE(rect.height, 6);
      rectHeader.writeInt32BE(RAW_ENCODING, 8);
      chunks.push(rectHeader, this.#encoder.encodeRect(framebuffer, rect));
      framebuffer.markSent(this.#sent, rect);
    }
    this.#options.send(chunks);
  }
}
