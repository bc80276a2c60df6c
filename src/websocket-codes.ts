/**
 * Every way the gateway refuses or ends a WebSocket, for both endpoints (the console proxy on
 * `/websockify` and graphql-ws on `/graphql`), and the one function that writes a refused upgrade.
 *
 * Public: numbers, reasons and refusal codes are seen by browsers, noVNC users and graphql-ws
 * clients (README "Console", "Limits"). Never change a value; add a new one. Nothing here carries
 * a secret: reasons and refusal bodies are fixed strings.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode } from 'graphql-ws';
import { ErrorCode } from './errors.js';

/**
 * Close codes the console proxy sends to browsers (and records in the audit line); noVNC shows the
 * code and reason, so each names a distinct cause. 1000-1015 are RFC 6455 codes with their standard
 * meaning; 4000-4999 is the application range, used for what only a proxy can report (the far
 * side, not the browser, did something).
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
  /** No close frame: the TCP connection just dropped. Never sent (RFC 6455 7.4.1), only recorded. */
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
  /**
   * The session was not piping within `console.handshakeTimeoutSeconds` of the upgrade: the target,
   * the upstream connect or one of the two RFB handshakes never finished (a stalled VNC server, a
   * browser that never answers). Bytes flowing do not extend it.
   */
  HandshakeTimeout: 4009,
  /**
   * Bytes held for a side that could not take them yet (before piping starts, or read from a paused
   * browser to see whether it is alive) passed `console.maxHeldBytes`: a peer that floods instead of
   * following the protocol.
   */
  HeldBytesOverLimit: 4010,
  /**
   * The VNC server refused the connection before authentication (RFB: no security types, with a
   * failure reason). The reason follows the fixed text in the close reason, sanitised and cut short.
   */
  UpstreamRefused: 4011,
  /**
   * A view-only session's browser sent an RFB message the gateway does not know (or a handshake it
   * cannot follow, such as RFB 3.3 or a security type other than None and VNC Authentication): its
   * length cannot be known, so its input could not be told apart and dropped.
   */
  ViewOnlyUnknownMessage: 4012,
  /**
   * An operator ended the session (`terminateConsoleSession`). The app can ask `consoleSessions`
   * (by the `sessionId` of its `ConsoleAccess`) who and when; reconnecting is allowed.
   */
  TerminatedByOperator: 4013,
  /** The session reached `console.maxLifetimeSeconds` since its upgrade; open a new console to go on. */
  LifetimeExceeded: 4014,
  /**
   * No keyboard, mouse or clipboard message from the browser for `console.inputIdleTimeoutSeconds`
   * (screen updates do not count, unlike the byte-based idle timeout 4004).
   */
  InputIdleTimeout: 4015,
  /** The console's recording failed (disk full, write error, disk too slow) and `recording.onRecordingFailure` is `close-console`. */
  RecordingFailed: 4020,
} as const;
export type ConsoleCloseCode = (typeof ConsoleCloseCode)[keyof typeof ConsoleCloseCode];

/** The reason sent with each console close code (RFC 6455 limits a close reason to 123 bytes). */
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
  [ConsoleCloseCode.HandshakeTimeout]: 'handshake timeout',
  [ConsoleCloseCode.HeldBytesOverLimit]: 'held data over limit',
  [ConsoleCloseCode.UpstreamRefused]: 'upstream refused',
  [ConsoleCloseCode.ViewOnlyUnknownMessage]: 'view-only: unknown message',
  [ConsoleCloseCode.TerminatedByOperator]: 'terminated by an operator',
  [ConsoleCloseCode.LifetimeExceeded]: 'session lifetime exceeded',
  [ConsoleCloseCode.InputIdleTimeout]: 'no input',
  [ConsoleCloseCode.RecordingFailed]: 'recording failed',
};

/**
 * Close codes a graphql-ws connection on `/graphql` can end with: graphql-ws's own `CloseCode`,
 * named here once. The first three the gateway sends itself (src/auth/websocket.ts); the rest
 * graphql-ws sends. (4499 "Terminated" never crosses the wire: the graphql-ws client makes it up.)
 */
export const GraphqlWsCloseCode = {
  /** No credentials in `connectionParams` nor on the upgrade. Final for graphql-ws clients: nothing would change. */
  Unauthorized: CloseCode.Unauthorized,
  /** Credentials that did not verify. graphql-ws clients retry it, so a `connectionParams` function can bring a fresh token. */
  Forbidden: CloseCode.Forbidden,
  /**
   * The caller already has `limits.maxWsConnectionsPerCaller` connections open. graphql-ws's code for a
   * second `connection_init`, reused because its clients treat it as final (retrying would not help).
   */
  TooManyConnections: CloseCode.TooManyInitialisationRequests,
  /** A message graphql-ws could not parse or that breaks the protocol. */
  BadRequest: CloseCode.BadRequest,
  /** No `connection_init` within `limits.wsConnectionInitTimeoutMs`: frees sockets that never speak. */
  ConnectionInitTimeout: CloseCode.ConnectionInitialisationTimeout,
  /** A `subscribe` reusing the id of an operation still running on the connection. */
  SubscriberAlreadyExists: CloseCode.SubscriberAlreadyExists,
  /** The upgrade offered no subprotocol graphql-ws speaks. */
  SubprotocolNotAcceptable: CloseCode.SubprotocolNotAcceptable,
  /** graphql-ws failed inside (an onConnect or hook that threw). */
  InternalServerError: CloseCode.InternalServerError,
  /** A frame larger than `limits.maxBodyBytes` (sent by `ws`, RFC 6455 1009); logged once, through the logger. */
  MessageTooBig: 1009,
} as const;
export type GraphqlWsCloseCode = (typeof GraphqlWsCloseCode)[keyof typeof GraphqlWsCloseCode];

/** The reasons the gateway sends with the graphql-ws codes it sends itself. */
export const graphqlWsCloseReason = {
  [GraphqlWsCloseCode.Unauthorized]: 'Unauthorized',
  [GraphqlWsCloseCode.Forbidden]: 'Forbidden',
  [GraphqlWsCloseCode.TooManyConnections]: 'Too many connections',
} as const;

/** Codes a server may put in a close frame (RFC 6455 7.4.1: 1004, 1005, 1006 and 1015 are never sent). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Upgrades refused in plain HTTP, before any WebSocket exists. `code` is the body and a metrics and
 * log label; `status` the HTTP status. Browsers hide both from scripts, but they show in devtools and curl.
 */
export const UpgradeRefusal = {
  // Any WebSocket path (the upgrade router in src/server.ts).
  /** No WebSocket endpoint at this path. */
  PathNotFound: { status: 404, code: 'PATH_NOT_FOUND' },
  /** The gateway is draining for shutdown: try another replica. */
  ShuttingDown: { status: 503, code: 'SHUTTING_DOWN' },
  /** Cross-site WebSocket hijacking defence: the `Origin` is neither the gateway's own nor in `server.allowedOrigins`. */
  OriginNotAllowed: { status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  /**
   * DNS-rebinding defence: the `Host` header names neither the publicUrl host, an entry of
   * `server.allowedHosts`, `localhost` on the bound port nor an IP literal (src/auth/host.ts).
   */
  HostNotAllowed: { status: 421, code: 'HOST_NOT_ALLOWED' },

  // graphql-ws on /graphql.
  /** `limits.maxWsConnections` graphql-ws connections are open; checked before any credential is read. */
  GraphqlConnectionsLimit: { status: 429, code: 'WS_CONNECTIONS_LIMIT' },

  // The console proxy on /websockify (src/console/upgrade-request.ts, src/console/endpoint.ts).
  /** Not a WebSocket handshake `ws` would accept; refused before a ticket is spent on it. */
  BadHandshake: { status: 400, code: 'BAD_WEBSOCKET_HANDSHAKE' },
  /** `host`/`port`/`path`/`target` in the query: the proxy never lets a client pick its target. */
  TargetParamsRefused: { status: 400, code: 'TARGET_PARAMS_REFUSED' },
  /** Subprotocols offered, but not `binary` (the only one websockify's data path needs). */
  SubprotocolUnsupported: { status: 400, code: 'SUBPROTOCOL_UNSUPPORTED' },
  /** More than one ticket or token presented: the gateway will not guess which one counts. */
  CredentialsAmbiguous: { status: 400, code: 'CREDENTIALS_AMBIGUOUS' },
  /** `?token=` without `console.tokenFile` configured. */
  TokensNotEnabled: { status: 404, code: 'TOKENS_NOT_ENABLED' },
  /** A `?token=` that no token file line names. */
  TokenUnknown: { status: 401, code: 'TOKEN_UNKNOWN' },
  /** The ticket is genuine but its caller may no longer use the VM's provider (key removed or narrowed by a reload). */
  CallerForbidden: { status: 403, code: 'CALLER_FORBIDDEN' },
  /** `limits.maxConsoles` sessions are open. */
  ConsoleLimitGlobal: { status: 429, code: 'CONSOLE_LIMIT_GLOBAL' },
  /** The ticket's caller has `limits.maxConsolesPerCaller` sessions open. */
  ConsoleLimitCaller: { status: 429, code: 'CONSOLE_LIMIT_CALLER' },
  /** An unexpected failure while authorizing the upgrade. */
  Internal: { status: 500, code: 'INTERNAL_ERROR' },
  /** A fleet's Redis (`redis`) did not answer while the ticket was redeemed: mint a new ticket once it is back (a paused Redis may still spend this one). */
  StoreUnavailable: { status: 503, code: ErrorCode.StoreUnavailable },
  // Tickets: 401 when the bearer proved nothing, 403 when a real ticket may not be used (TicketError).
  /** No ticket presented. */
  TicketMissing: { status: 401, code: ErrorCode.TicketMissing },
  /** Not something the gateway could have minted (wrong length or alphabet). */
  TicketMalformed: { status: 401, code: ErrorCode.TicketMalformed },
  /** Well-formed but never minted here (forged, or from another gateway), or long expired. */
  TicketUnknown: { status: 401, code: ErrorCode.TicketUnknown },
  /** Minted here, but its seconds of life are over. */
  TicketExpired: { status: 403, code: ErrorCode.TicketExpired },
  /** Single-use and already redeemed (a replay, or a noVNC reconnect with the old URL). */
  TicketUsed: { status: 403, code: ErrorCode.TicketUsed },
  /** Minted for another VM than the one asked for. */
  TicketWrongVm: { status: 403, code: ErrorCode.TicketWrongVm },
} as const;
type RefusalCatalogue = typeof UpgradeRefusal;
export type UpgradeRefusalCode = RefusalCatalogue[keyof RefusalCatalogue]['code'];
/** A refusal: an entry of the catalogue (or one built from an entry's status and code). */
export interface UpgradeRefusal {
  readonly status: number;
  readonly code: UpgradeRefusalCode;
}

/** Each refusal's code by name, for code that needs only the code (metrics labels, TicketError). */
export const UpgradeRefusalCode = Object.fromEntries(Object.entries(UpgradeRefusal).map(([name, refusal]) => [name, refusal.code])) as {
  readonly [Name in keyof RefusalCatalogue]: RefusalCatalogue[Name]['code'];
};

/**
 * Answer an upgrade with a plain HTTP error and close: status line, headers, the refusal code as
 * the body, then the socket is destroyed. The one writer of refusals for every WebSocket path.
 */
export function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${refusal.code}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      'Cache-Control: no-store\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}
