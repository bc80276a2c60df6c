/**
 * The gateway's errors, in the manner of undici's errors.js: one root class (`GatewayError`), one
 * list of stable codes (`ErrorCode`), and a subclass per failure or family. Callers branch on
 * `code`, never on message text.
 *
 * Who sees a code: only `ApiErrorCode`s reach API clients. The GraphQL layer copies them into
 * `extensions.code`; any other error, internal GatewayErrors included, is masked to
 * INTERNAL_SERVER_ERROR before a client sees it (src/graphql/errors.ts). Refused console tickets
 * reach browsers only as the body of a refused upgrade (src/websocket-codes.ts).
 *
 * Messages must never contain upstream secrets (passwords, tokens, raw_token, tickets): they are
 * shown to clients and written to logs as they are.
 */
export const ErrorCode = {
  // API codes: public, clients branch on them (README "Errors").
  BadUserInput: 'BAD_USER_INPUT',
  NotFound: 'NOT_FOUND',
  UpstreamUnavailable: 'UPSTREAM_UNAVAILABLE',
  UpstreamError: 'UPSTREAM_ERROR',
  UpstreamAuthFailed: 'UPSTREAM_AUTH_FAILED',
  /** The upstream's answer (a body, an event, a message) was larger than the provider's configured cap. */
  UpstreamResponseTooLarge: 'UPSTREAM_RESPONSE_TOO_LARGE',
  /** The upstream did not finish answering (headers and body) within the provider's deadline. */
  UpstreamTimeout: 'UPSTREAM_TIMEOUT',
  ConsoleUnavailable: 'CONSOLE_UNAVAILABLE',
  Forbidden: 'FORBIDDEN',
  Unauthenticated: 'UNAUTHENTICATED',
  RateLimited: 'RATE_LIMITED',
  SubscriberTooSlow: 'SUBSCRIBER_TOO_SLOW',
  /** `events(after:)` named an event no longer kept (events.retention) or too far back to replay (events.replayMax): resync. */
  EventsExpired: 'EVENTS_EXPIRED',
  /** The shared store (Redis) of a fleet could not answer; retry later. Open consoles are not affected. */
  StoreUnavailable: 'STORE_UNAVAILABLE',
  Internal: 'INTERNAL_SERVER_ERROR',

  // Internal codes: logs, metrics labels and refused-upgrade bodies, never a GraphQL response.
  /** The configuration (or a file it names) is invalid: start-up or reload fails. */
  ConfigInvalid: 'CONFIG_INVALID',
  /** Console ticket refusals; see TicketErrorCode in src/console/tickets.ts. */
  TicketMissing: 'TICKET_MISSING',
  TicketMalformed: 'TICKET_MALFORMED',
  TicketUnknown: 'TICKET_UNKNOWN',
  TicketExpired: 'TICKET_EXPIRED',
  TicketUsed: 'TICKET_USED',
  TicketWrongVm: 'TICKET_WRONG_VM',
  /** RFB handshake failures; see RfbErrorCode in src/rfb/errors.ts. */
  RfbProtocol: 'RFB_PROTOCOL',
  RfbServerRefused: 'RFB_SERVER_REFUSED',
  RfbUnsupportedSecurity: 'RFB_UNSUPPORTED_SECURITY',
  RfbPasswordRequired: 'RFB_PASSWORD_REQUIRED',
  RfbAuthFailed: 'RFB_AUTH_FAILED',
  /** A console's upstream leg could not be opened; the session closes the browser with the leg's close code. */
  LegConnectFailed: 'LEG_CONNECT_FAILED',
  /** An upstream body a decoder could not read; the client rethrows it as UPSTREAM_ERROR. */
  UpstreamBodyUndecodable: 'UPSTREAM_BODY_UNDECODABLE',
  /** A fleet lease (src/fleet/lease.ts) is no longer ours: the fenced write was refused and the holder steps down. */
  LeaseLost: 'LEASE_LOST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The codes API clients may see as `extensions.code`. Everything else is masked. */
export type ApiErrorCode =
  | typeof ErrorCode.BadUserInput
  | typeof ErrorCode.NotFound
  | typeof ErrorCode.UpstreamUnavailable
  | typeof ErrorCode.UpstreamError
  | typeof ErrorCode.UpstreamAuthFailed
  | typeof ErrorCode.UpstreamResponseTooLarge
  | typeof ErrorCode.UpstreamTimeout
  | typeof ErrorCode.ConsoleUnavailable
  | typeof ErrorCode.Forbidden
  | typeof ErrorCode.Unauthenticated
  | typeof ErrorCode.RateLimited
  | typeof ErrorCode.SubscriberTooSlow
  | typeof ErrorCode.EventsExpired
  | typeof ErrorCode.StoreUnavailable
  | typeof ErrorCode.Internal;

const API_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ApiErrorCode>([
  ErrorCode.BadUserInput,
  ErrorCode.NotFound,
  ErrorCode.UpstreamUnavailable,
  ErrorCode.UpstreamError,
  ErrorCode.UpstreamAuthFailed,
  ErrorCode.UpstreamResponseTooLarge,
  ErrorCode.UpstreamTimeout,
  ErrorCode.ConsoleUnavailable,
  ErrorCode.Forbidden,
  ErrorCode.Unauthenticated,
  ErrorCode.RateLimited,
  ErrorCode.SubscriberTooSlow,
  ErrorCode.EventsExpired,
  ErrorCode.StoreUnavailable,
  ErrorCode.Internal,
]);

/** The root of every error the gateway throws on purpose. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  /** Safe details (provider name, field name...); API errors show them as extensions. Never secrets. */
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/** A GatewayError whose code and message are meant for API clients (GraphQL, the HTTP 401 body). */
export function isApiError(err: unknown): err is GatewayError & { readonly code: ApiErrorCode } {
  return err instanceof GatewayError && API_ERROR_CODES.has(err.code);
}

export class BadUserInputError extends GatewayError {
  declare readonly code: typeof ErrorCode.BadUserInput;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.BadUserInput, message, details);
  }
}

export class NotFoundError extends GatewayError {
  declare readonly code: typeof ErrorCode.NotFound;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.NotFound, message, details);
  }
}

export class ConsoleUnavailableError extends GatewayError {
  declare readonly code: typeof ErrorCode.ConsoleUnavailable;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.ConsoleUnavailable, message, details);
  }
}

/** The upstream could not be reached: connection refused, DNS, TLS, timeout. */
export class UpstreamUnavailableError extends GatewayError {
  declare readonly code: typeof ErrorCode.UpstreamUnavailable;
  constructor(provider: string, reason: string, options?: { cause?: unknown }) {
    super(ErrorCode.UpstreamUnavailable, `upstream "${provider}" is unavailable: ${reason}`, { provider }, options);
  }
}

/** The upstream answered, but with an error body or something we cannot parse. */
export class UpstreamResponseError extends GatewayError {
  declare readonly code: typeof ErrorCode.UpstreamError;
  constructor(provider: string, reason: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(ErrorCode.UpstreamError, `upstream "${provider}" returned an error: ${reason}`, { provider, ...details }, options);
  }
}

/** The upstream refused the gateway's own credentials (not the caller's). */
export class UpstreamAuthFailedError extends GatewayError {
  declare readonly code: typeof ErrorCode.UpstreamAuthFailed;
  constructor(provider: string, reason = 'credentials were refused') {
    super(ErrorCode.UpstreamAuthFailed, `upstream "${provider}" rejected the gateway's credentials: ${reason}`, { provider });
  }
}

/**
 * The upstream sent more than a configured cap allows (a response body, an SSE line or event, a
 * WebSocket message). The gateway stopped reading; it is not a connection failure.
 */
export class UpstreamResponseTooLargeError extends GatewayError {
  declare readonly code: typeof ErrorCode.UpstreamResponseTooLarge;
  constructor(provider: string, what: string, limitBytes: number, configKey: string) {
    super(ErrorCode.UpstreamResponseTooLarge, `upstream "${provider}" sent ${what} larger than ${limitBytes} bytes (${configKey})`, {
      provider,
      limitBytes,
    });
  }
}

/** The upstream did not finish (headers and body) within the deadline; the request was abandoned and its connection freed. */
export class UpstreamTimeoutError extends GatewayError {
  declare readonly code: typeof ErrorCode.UpstreamTimeout;
  constructor(provider: string, what: string, deadlineMs: number, configKey: string) {
    super(ErrorCode.UpstreamTimeout, `upstream "${provider}" did not finish ${what} within ${deadlineMs} ms (${configKey})`, {
      provider,
      deadlineMs,
    });
  }
}

/** Configuration is invalid; thrown at start-up (and on reload) with a message naming the key. Internal. */
export class ConfigError extends GatewayError {
  declare readonly code: typeof ErrorCode.ConfigInvalid;
  readonly issues: string[];
  constructor(issues: string[]) {
    super(ErrorCode.ConfigInvalid, `invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.issues = issues;
  }
}
