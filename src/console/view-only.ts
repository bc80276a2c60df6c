/**
 * The view-only filter: reads the browser-to-server RFB stream incrementally and drops every
 * message that injects input, so an observer's modified client cannot type or click (noVNC's own
 * view-only mode is client-side only). Sans-IO: `feed` takes what the browser sent and returns what
 * may go on to the VNC server (or to the RfbBridge), or null when the stream cannot be followed.
 *
 * Client side of RFB (RFC 6143 7.1-7.5, plus the extensions noVNC speaks):
 *   ProtocolVersion (12) -> security type (1; 3.7/3.8) -> [VNC Authentication response (16)]
 *   -> ClientInit (1, shared flag: forced to 1 so an observer never disconnects the VM's user)
 *   -> messages. In RFB 3.3 the server picks the security type and the client sends none, so the
 *   client stream alone cannot be followed: such a session is closed (4012).
 *
 * Dropped (input): KeyEvent 4, PointerEvent 5, ClientCutText 6, QEMU extended key event (255/0),
 * SetDesktopSize 251 (an observer must not resize the user's screen), xvp 250 (shutdown, reboot).
 * Passed: SetPixelFormat 0, SetEncodings 2, FramebufferUpdateRequest 3, EnableContinuousUpdates
 * 150, ClientFence 248, QEMU audio (255/1). Anything else closes the session: its length is unknown.
 */

export type ViewOnlyFailure = 'unknown-message' | 'unsupported-handshake';

/** The kinds of input message a view-only session drops (the `type` label of `console_view_only_input_dropped_total`). */
export const DROPPED_INPUT_TYPES = ['key', 'pointer', 'cut_text', 'qemu_key', 'set_desktop_size', 'xvp'] as const;
export type DroppedInputType = (typeof DROPPED_INPUT_TYPES)[number];
export type DroppedInputCounts = Record<DroppedInputType, number>;

export function noDroppedInput(): DroppedInputCounts {
  return { key: 0, pointer: 0, cut_text: 0, qemu_key: 0, set_desktop_size: 0, xvp: 0 };
}

/** RFB client message type -> its input kind; QEMU's (255) is input only as its extended key event (submessage 0). */
const INPUT_TYPE: Partial<Record<number, DroppedInputType>> = { 4: 'key', 5: 'pointer', 6: 'cut_text', 250: 'xvp', 251: 'set_desktop_size' };

/** Dropped messages are skipped as they stream: a large clipboard is never buffered whole. */
const enum Phase {
  Version,
  Security,
  VncResponse,
  ClientInit,
  Messages,
}

/** #needed's answer for a dropped message now being skipped. */
const SKIPPING = -1;
const SECURITY_NONE = 1;
const NOTHING = Buffer.alloc(0);
const SECURITY_VNC_AUTH = 2;

/**
 * Also the reader of the browser's stream for the input-idle timeout (`observe`): the same parse,
 * nothing dropped or copied, only input messages counted.
 */
export class ViewOnlyFilter {
  #phase = Phase.Version;
  /** Bytes of an incomplete message or handshake field, waiting for the rest. */
  #partial: Buffer | null = null;
  /** Bytes still to skip of a dropped message whose length is known. */
  #skip = 0;
  /** Input messages seen so far: dropped by `feed`, only counted by `observe`. */
  input = 0;
  /** `input` by kind. */
  readonly inputByType: DroppedInputCounts = noDroppedInput();
  failure: ViewOnlyFailure | null = null;

  /** What may go upstream (possibly empty), or null: the session must close (4012). */
  feed(chunk: Buffer): Buffer | null {
    return this.#run(chunk, true);
  }

  /** Input messages dropped so far (view-only sessions). */
  get dropped(): number {
    return this.input;
  }

  /**
   * Follow the stream without changing it (the caller forwards `chunk` as it is), counting input
   * messages. false once the stream cannot be followed (`failure` set): input can no longer be told apart.
   */
  observe(chunk: Buffer): boolean {
    return this.#run(chunk, false) !== null;
  }

  #run(chunk: Buffer, collect: boolean): Buffer | null {
    if (this.failure) return null;
    let buf = this.#partial ? Buffer.concat([this.#partial, chunk]) : chunk;
    this.#partial = null;
    const out: Buffer[] = [];
    let at = 0;
    while (at < buf.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, buf.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      const need = this.#needed(buf, at);
      if (need === null) return null;
      if (need === SKIPPING) continue;
      if (need === 0 || buf.length - at < need) break; // incomplete: wait for more
      const msg = buf.subarray(at, at + need);
      const keep = this.#accept(msg);
      if (keep === null) return null;
      if (keep && collect) out.push(keep);
      at += need;
    }
    if (at < buf.length) this.#partial = Buffer.from(buf.subarray(at));
    if (!collect) return NOTHING;
    buf = out.length === 1 ? out[0]! : Buffer.concat(out);
    return buf;
  }

  /**
   * Length of the item at `at` once enough of its header is there; 0 while the header is still
   * incomplete; SKIPPING when a dropped message is now being skipped; null when unknown (failure set).
   */
  #needed(buf: Buffer, at: number): number | null {
    const avail = buf.length - at;
    switch (this.#phase) {
      case Phase.Version:
        return 12;
      case Phase.Security:
      case Phase.ClientInit:
        return 1;
      case Phase.VncResponse:
        return 16;
      case Phase.Messages:
        break;
    }
    const type = buf[at]!;
    switch (type) {
      case 0: // SetPixelFormat
        return 20;
      case 2: // SetEncodings: u16 count at 2
        return avail < 4 ? 0 : 4 + 4 * buf.readUInt16BE(at + 2);
      case 3: // FramebufferUpdateRequest
        return 10;
      case 4: // KeyEvent
        return 8;
      case 5: // PointerEvent
        return 6;
      case 6: {
        // ClientCutText: s32 length at 4 (negative: extended clipboard, |length| bytes follow). Skipped, never buffered.
        if (avail < 8) return 0;
        const length = Math.abs(buf.readInt32BE(at + 4));
        this.input++;
        this.inputByType.cut_text++;
        this.#skip = 8 + length;
        return SKIPPING;
      }
      case 150: // EnableContinuousUpdates
        return 10;
      case 248: // ClientFence: u8 length at 8
        return avail < 9 ? 0 : 9 + buf[at + 8]!;
      case 250: // xvp
        return 4;
      case 251: // SetDesktopSize: u8 screens at 6
        return avail < 8 ? 0 : 8 + 16 * buf[at + 6]!;
      case 255: {
        // QEMU client message: submessage at 1.
        if (avail < 2) return 0;
        const sub = buf[at + 1]!;
        if (sub === 0) return 12; // extended key event
        if (sub === 1) {
          // audio: u16 operation at 2; 0 enable, 1 disable (4 bytes), 2 set format (10 bytes)
          if (avail < 4) return 0;
          const op = buf.readUInt16BE(at + 2);
          if (op === 0 || op === 1) return 4;
          if (op === 2) return 10;
        }
        this.failure = 'unknown-message';
        return null;
      }
      default:
        this.failure = 'unknown-message';
        return null;
    }
  }

  /** A whole item: the bytes to forward, false to drop, null to fail. */
  #accept(msg: Buffer): Buffer | false | null {
    switch (this.#phase) {
      case Phase.Version: {
        const text = msg.toString('latin1');
        const m = /^RFB 003\.(\d{3})\n$/.exec(text);
        // RFB 3.3 (and 3.5, read as 3.3): the server picks the security type; see the module comment.
        if (!m || Number(m[1]) < 7) return this.#fail('unsupported-handshake');
        this.#phase = Phase.Security;
        return msg;
      }
      case Phase.Security: {
        const type = msg[0]!;
        if (type === SECURITY_NONE) this.#phase = Phase.ClientInit;
        else if (type === SECURITY_VNC_AUTH) this.#phase = Phase.VncResponse;
        else return this.#fail('unsupported-handshake');
        return msg;
      }
      case Phase.VncResponse:
        this.#phase = Phase.ClientInit;
        return msg;
      case Phase.ClientInit:
        this.#phase = Phase.Messages;
        return msg[0] === 1 ? msg : Buffer.from([1]);
      case Phase.Messages:
        break;
    }
    const type = msg[0]!;
    const input = type === 255 ? (msg[1] === 0 ? 'qemu_key' : undefined) : INPUT_TYPE[type];
    if (input !== undefined) {
      this.input++;
      this.inputByType[input]++;
      return false;
    }
    return msg;
  }

  #fail(failure: ViewOnlyFailure): null {
    this.failure = failure;
    return null;
  }
}
