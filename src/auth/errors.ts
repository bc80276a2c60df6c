/**
 * Client-facing authentication, authorization and rate-limit errors (UNAUTHENTICATED, FORBIDDEN,
 * RATE_LIMITED in src/errors.ts). Messages name what was wrong (expired, wrong audience), never
 * the credential itself.
 */
import { ErrorCode, GatewayError } from '../errors.js';

/**
 * Why credentials were refused. Public: clients see it as `extensions.reason` (README "Errors"),
 * graphql-ws picks its close code from it, and logs show it.
 */
export const UnauthenticatedReason = {
  /** No credential at all (HTTP 401 and graphql-ws 4401: nothing to retry with). */
  CredentialsMissing: 'CREDENTIALS_MISSING',
  /** More than one credential (Authorization and x-api-key, or two of one). */
  CredentialsAmbiguous: 'CREDENTIALS_AMBIGUOUS',
  /** A scheme this mode does not accept (an API key where only tokens are, an unknown scheme). */
  CredentialsUnsupported: 'CREDENTIALS_UNSUPPORTED',
  ApiKeyUnknown: 'API_KEY_UNKNOWN',
  TokenMalformed: 'TOKEN_MALFORMED',
  TokenExpired: 'TOKEN_EXPIRED',
  TokenSignature: 'TOKEN_SIGNATURE',
  TokenAlgorithm: 'TOKEN_ALGORITHM',
  /** No key in the key set matches the token's `kid`/algorithm. */
  TokenKeyUnknown: 'TOKEN_KEY_UNKNOWN',
  /** A required claim (`exp`, `iss`, `aud`...) is absent; `details.claim` names it. */
  TokenClaimMissing: 'TOKEN_CLAIM_MISSING',
  /** A claim has a value that is not accepted (wrong issuer or audience...); `details.claim` names it. */
  TokenClaimInvalid: 'TOKEN_CLAIM_INVALID',
  TokenInvalidSubject: 'TOKEN_INVALID_SUBJECT',
  TokenInvalidProviders: 'TOKEN_INVALID_PROVIDERS',
  /** The JWKS URL could not be fetched: the token may be fine, the gateway cannot tell. */
  JwksUnavailable: 'JWKS_UNAVAILABLE',
} as const;
export type UnauthenticatedReason = (typeof UnauthenticatedReason)[keyof typeof UnauthenticatedReason];

/** No credentials, or credentials that did not verify. HTTP 401 on /graphql. */
export class UnauthenticatedError extends GatewayError {
  declare readonly code: typeof ErrorCode.Unauthenticated;
  readonly reason: UnauthenticatedReason;
  /** `details` are shown to the client beside `reason`; never the credential. */
  constructor(reason: UnauthenticatedReason, message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Unauthenticated, message, { reason, ...details });
    this.reason = reason;
  }
}

/** Authenticated, but this caller may not use the provider (or VM) asked for. */
export class ForbiddenError extends GatewayError {
  declare readonly code: typeof ErrorCode.Forbidden;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Forbidden, message, details);
  }
}

/** Too many requests of one kind from one caller; `retryAfterSeconds` says when to try again. */
export class RateLimitedError extends GatewayError {
  declare readonly code: typeof ErrorCode.RateLimited;
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}) {
    super(ErrorCode.RateLimited, message, { ...details, retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
