/**
 * Client-facing authentication, authorization and rate-limit errors. Their codes already exist in
 * src/errors.ts (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED); these classes give them a home.
 * Messages name what was wrong (expired, wrong audience), never the credential itself.
 */
import { ErrorCode, GatewayError } from '../errors.js';

/** No credentials, or credentials that did not verify. HTTP 401 on /graphql. */
export class UnauthenticatedError extends GatewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Unauthenticated, message, details);
  }
}

/** Authenticated, but this caller may not use the provider (or VM) asked for. */
export class ForbiddenError extends GatewayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Forbidden, message, details);
  }
}

/** Too many requests of one kind from one caller; `retryAfterSeconds` says when to try again. */
export class RateLimitedError extends GatewayError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}) {
    super(ErrorCode.RateLimited, message, { ...details, retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
