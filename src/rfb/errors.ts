/**
 * RFB handshake and protocol failures. Callers branch on `code`, never on message text.
 * These are not GatewayErrors: the console proxy decides how an RFB failure surfaces to a client
 * (usually a WebSocket close), and maps `code` there.
 *
 * Messages never contain the VNC password or the challenge/response bytes.
 */
export const RfbErrorCode = {
  /** Bytes that do not follow RFC 6143 (bad version banner, unknown message type, bad field value). */
  Protocol: 'RFB_PROTOCOL',
  /** The server refused the connection before security (zero security types, or type 0 in 3.3). */
  ServerRefused: 'RFB_SERVER_REFUSED',
  /** No security type both sides can use. */
  UnsupportedSecurity: 'RFB_UNSUPPORTED_SECURITY',
  /** The server wants VNC Authentication but no password is configured. */
  PasswordRequired: 'RFB_PASSWORD_REQUIRED',
  /** SecurityResult was "failed" (wrong password, or the server blocked us). */
  AuthFailed: 'RFB_AUTH_FAILED',
} as const;
export type RfbErrorCode = (typeof RfbErrorCode)[keyof typeof RfbErrorCode];

export class RfbError extends Error {
  readonly code: RfbErrorCode;
  /** The peer's own reason string when it sent one (RFB 3.8 failure reasons), else our description. */
  readonly reason: string;
  /**
   * Bytes to send to the peer before closing, when the protocol has a way to say why
   * (a 3.8 SecurityResult with a reason). Empty when the connection should just be closed.
   */
  readonly reply: Buffer[];
  constructor(code: RfbErrorCode, reason: string, reply: Buffer[] = []) {
    super(`${code}: ${reason}`);
    this.name = 'RfbError';
    this.code = code;
    this.reason = reason;
    this.reply = reply;
  }
}

export function isRfbError(err: unknown): err is RfbError {
  return err instanceof RfbError;
}
