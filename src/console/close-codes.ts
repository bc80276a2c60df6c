/**
 * WebSocket close codes the console proxy sends to browsers (and records in the audit line).
 * Public: noVNC shows the code and reason to the user, so each one names a distinct cause.
 *
 * 1000-1015 are RFC 6455 codes used with their standard meaning; 4000-4999 is the range RFC 6455
 * leaves to applications, used for causes that are specific to a proxy (the far side, not the
 * browser, did something). Codes never carry secrets; reasons are fixed strings.
 */
export const ConsoleCloseCode = {
  /** The console ended normally (the browser closed, or both sides agreed). */
  Normal: 1000,
  /** The gateway is shutting down (`closeAll()` / `close()`). The browser may reconnect elsewhere. */
  GoingAway: 1001,
  /** The browser broke the WebSocket protocol (bad framing, reserved bits...); from `ws`. */
  ProtocolError: 1002,
  /** The browser sent a text frame. websockify's binary subprotocol carries only binary frames. */
  UnsupportedData: 1003,
  /** No close frame: the TCP connection just dropped. Never sent, only recorded. */
  Abnormal: 1006,
  /** A frame larger than `maxFrameBytes`. Protects gateway memory: `ws` buffers a whole message. */
  MessageTooBig: 1009,
  /** A bug or unexpected failure inside the gateway. */
  InternalError: 1011,
  /** Could not reach the upstream: refused, DNS, TLS, timeout, or its WebSocket handshake failed. */
  UpstreamUnreachable: 4001,
  /** The upstream (VNC server or websockify) closed the connection; the VM console went away. */
  UpstreamClosed: 4002,
  /**
   * The upstream refused the gateway's credentials: the VNC password (RFB SecurityResult failed,
   * or a password is needed and none is configured) or a websockify that answered 401/403.
   * Distinct from 4001 because retrying will not help; the operator must fix credentials.
   */
  UpstreamAuthFailed: 4003,
  /** No bytes in either direction for `idleTimeoutMs`. Frees upstream VNC slots held by forgotten tabs. */
  IdleTimeout: 4004,
  /** The browser did not answer a ping before the next one was due: a dead or frozen peer. */
  PingTimeout: 4005,
  /**
   * The gateway could not work out where the console is (the VM is gone, not running, or its
   * provider is down). Separate from 4001: no connection was attempted.
   */
  TargetUnavailable: 4006,
  /** The upstream spoke something the gateway cannot proxy (bad RFB, unsupported security, text frames). */
  UpstreamProtocolError: 4007,
  /** The browser's RFB handshake with the gateway failed (it chose a security type that was not offered). */
  ClientRfbError: 4008,
} as const;
export type ConsoleCloseCode = (typeof ConsoleCloseCode)[keyof typeof ConsoleCloseCode];

/** Fixed, secret-free reasons sent with each code (a close reason is limited to 123 bytes). */
export const closeReason: Record<ConsoleCloseCode, string> = {
  [ConsoleCloseCode.Normal]: 'normal closure',
  [ConsoleCloseCode.GoingAway]: 'gateway shutting down',
  [ConsoleCloseCode.ProtocolError]: 'websocket protocol error',
  [ConsoleCloseCode.UnsupportedData]: 'binary frames only',
  [ConsoleCloseCode.Abnormal]: 'connection dropped',
  [ConsoleCloseCode.MessageTooBig]: 'frame too big',
  [ConsoleCloseCode.InternalError]: 'internal error',
  [ConsoleCloseCode.UpstreamUnreachable]: 'upstream unreachable',
  [ConsoleCloseCode.UpstreamClosed]: 'upstream closed',
  [ConsoleCloseCode.UpstreamAuthFailed]: 'upstream authentication failed',
  [ConsoleCloseCode.IdleTimeout]: 'idle timeout',
  [ConsoleCloseCode.PingTimeout]: 'ping timeout',
  [ConsoleCloseCode.TargetUnavailable]: 'console target unavailable',
  [ConsoleCloseCode.UpstreamProtocolError]: 'upstream protocol error',
  [ConsoleCloseCode.ClientRfbError]: 'rfb handshake failed',
};

/** Codes a server may put in a close frame (RFC 6455 7.4.1: 1005, 1006 and 1015 are never sent). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}
