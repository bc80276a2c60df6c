/**
 * Why the simulated VNC server dropped a client. Its own type, not the gateway's RfbError: the simulator
 * is the gateway's peer in tests, and a peer that shared the gateway's error vocabulary could not
 * disagree with it.
 */
export const VncSessionFailure = {
  /** Bytes that do not follow RFC 6143: a bad banner, an unknown message, an unusable pixel format. */
  Protocol: 'protocol',
  /** The client picked a security type the server did not offer. */
  SecurityNotOffered: 'security-not-offered',
  /** The VNC Authentication response did not match the password. */
  AuthFailed: 'auth-failed',
} as const;
export type VncSessionFailure = (typeof VncSessionFailure)[keyof typeof VncSessionFailure];

export class VncSessionError extends Error {
  readonly code: VncSessionFailure;
  /**
   * Bytes to send before closing when RFB has a way to say why (a failed SecurityResult, with a reason
   * string in 3.8). Empty when the connection is just closed.
   */
  readonly reply: Buffer[];
  constructor(code: VncSessionFailure, message: string, reply: Buffer[] = []) {
    super(`${code}: ${message}`);
    this.name = 'VncSessionError';
    this.code = code;
    this.reply = reply;
  }
}
