/**
 * Error classes with stable codes. Callers branch on `code`, never on message text.
 * The GraphQL layer copies `code` into `extensions.code`; anything that is not a GatewayError is
 * masked to INTERNAL_SERVER_ERROR before it reaches a client.
 *
 * Messages must never contain upstream secrets (passwords, tokens, raw_token, tickets): they are
 * shown to clients and written to logs as they are.
 */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  NotFound: 'NOT_FOUND',
  UpstreamUnavailable: 'UPSTREAM_UNAVAILABLE',
  UpstreamError: 'UPSTREAM_ERROR',
  UpstreamAuthFailed: 'UPSTREAM_AUTH_FAILED',
  ConsoleUnavailable: 'CONSOLE_UNAVAILABLE',
  Forbidden: 'FORBIDDEN',
  Unauthenticated: 'UNAUTHENTICATED',
  RateLimited: 'RATE_LIMITED',
  SubscriberTooSlow: 'SUBSCRIBER_TOO_SLOW',
  Internal: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GatewayError extends Error {
  readonly code: ErrorCode;
  /** Safe, client-visible details (provider name, field name...). Never secrets. */
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export class BadUserInputError extends GatewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.BadUserInput, message, details);
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.NotFound, message, details);
  }
}

export class ConsoleUnavailableError extends GatewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.ConsoleUnavailable, message, details);
  }
}

/** The upstream could not be reached: connection refused, DNS, TLS, timeout. */
export class UpstreamUnavailableError extends GatewayError {
  constructor(provider: string, reason: string, options?: { cause?: unknown }) {
    super(ErrorCode.UpstreamUnavailable, `upstream "${provider}" is unavailable: ${reason}`, { provider }, options);
  }
}

/** The upstream answered, but with an error body or something we cannot parse. */
export class UpstreamResponseError extends GatewayError {
  constructor(provider: string, reason: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(ErrorCode.UpstreamError, `upstream "${provider}" returned an error: ${reason}`, { provider, ...details }, options);
  }
}

/** The upstream refused the gateway's own credentials (not the caller's). */
export class UpstreamAuthFailedError extends GatewayError {
  constructor(provider: string, reason = 'credentials were refused') {
    super(ErrorCode.UpstreamAuthFailed, `upstream "${provider}" rejected the gateway's credentials: ${reason}`, { provider });
  }
}

/** Configuration is invalid; thrown at start-up (and on reload) with a message naming the key. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
