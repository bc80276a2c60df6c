/**
 * RFB handshake and protocol failures. Callers branch on `code`, never on message text.
 * Internal GatewayErrors: the console proxy decides how an RFB failure surfaces to a client
 * (a WebSocket close code), and maps `code` there.
 *
 * Messages never contain the VNC password or the challenge/response bytes.
 */
import { ErrorCode, GatewayError } from '../errors.js';

export const RfbErrorCode = {
  /** Bytes that do not follow RFC 6143 (bad version banner, unknown message type, bad field value). */
  Protocol: ErrorCode.RfbProtocol,
  /** The server refused the connection before security (zero security types, or type 0 in 3.3). */
  ServerRefused: ErrorCode.RfbServerRefused,
  /** No security type both sides can use. */
  UnsupportedSecurity: ErrorCode.RfbUnsupportedSecurity,
  /** The server wants VNC Authentication but no password is configured. */
  PasswordRequired: ErrorCode.RfbPasswordRequired,
  /** SecurityResult was "failed" (wrong password, or the server blocked us). */
  AuthFailed: ErrorCode.RfbAuthFailed,
} as const;
export type RfbErrorCode = (typeof RfbErrorCode)[keyof typeof RfbErrorCode];

export class RfbError extends GatewayError {
  declare readonly code: RfbErrorCode;
  /** The peer's own reason string when it sent one (RFB 3.8 failure reasons), else our description. */
  readonly reason: string;
  /**
   * Bytes to send to the peer before closing, when the protocol has a way to say why
   * (a 3.8 SecurityResult with a reason). Empty when the connection should just be closed.
   */
  readonly reply: Buffer[];
  constructor(code: RfbErrorCode, reason: string, reply: Buffer[] = []) {
    super(code, `${code}: ${reason}`);
    this.reason = reason;
    this.reply = reply;
  }
}

export function isRfbError(err: unknown): err is RfbError {
  return err instanceof RfbError;
}
