/**
 * The upstream side of a console session, whatever carries it (raw TCP to a VNC server, or a
 * WebSocket to an upstream websockify). The session only moves bytes; a leg hides the transport.
 */
import { ErrorCode, GatewayError } from '../../errors.js';
import type { ConsoleCloseCode } from '../../websocket-codes.js';

/** Callbacks a leg makes into its session. Given at connect time so no early byte is lost. */
export interface LegEvents {
  /** Bytes from the upstream, in order. The buffer is the leg's own: the session may keep it. */
  data(chunk: Buffer): void;
  /** The outgoing buffer emptied after `write` returned false. */
  drain(): void;
  /** The upstream is gone (after a successful connect). Called once. */
  closed(info: LegClosed): void;
}

export interface LegClosed {
  /** The close code the browser should see. */
  code: ConsoleCloseCode;
  /** Short, secret-free detail for the audit line (an errno code, the upstream's close code). */
  detail: string;
}

export interface UpstreamLeg {
  /**
   * Queue bytes for the upstream. Returns false once the queue passed the high-water mark: the
   * caller should stop reading the browser until `drain`.
   */
  write(chunk: Buffer): boolean;
  /** Stop reading from the upstream (the browser is not keeping up). */
  pause(): void;
  resume(): void;
  /** Flush what is queued, then close. */
  end(): void;
  /** Close now, dropping anything queued. */
  destroy(): void;
  /** Bytes queued for the upstream and not yet handed to the kernel. */
  readonly bufferedBytes: number;
}

export interface LegOptions {
  /** Give up connecting after this long, milliseconds. */
  connectTimeoutMs: number;
  /** Outgoing queue size at which `write` returns false, bytes. */
  highWaterMarkBytes: number;
  /** Largest WebSocket message accepted from an upstream websockify, bytes. */
  maxFrameBytes: number;
}

/** Connecting failed; `closeCode` says how the browser's WebSocket is closed. Internal. */
export class LegConnectError extends GatewayError {
  declare readonly code: typeof ErrorCode.LegConnectFailed;
  readonly closeCode: ConsoleCloseCode;
  /** Secret-free detail: an errno/TLS code or an HTTP status. */
  readonly detail: string;
  constructor(closeCode: ConsoleCloseCode, detail: string) {
    super(ErrorCode.LegConnectFailed, `upstream connect failed: ${detail}`);
    this.closeCode = closeCode;
    this.detail = detail;
  }
}
