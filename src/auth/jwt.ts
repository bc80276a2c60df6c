/**
 * JWT bearer tokens, verified with jose: signature (HS* shared secret, or a JWKS from a file or
 * URL), `iss`, `aud`, `exp` (required), `nbf`, and `sub` (required; it becomes the caller id).
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../errors.js';
import { JWKS_DEFAULT_ALGORITHMS, type JwtConfig } from './config-schema.js';
import { UnauthenticatedError, UnauthenticatedReason } from './errors.js';
import { PERMISSIONS } from './principal.js';

/** Longest `sub` accepted: it lands in every audit line and rate-limit key. */
const MAX_SUBJECT_LENGTH = 256;

export interface VerifiedToken {
  subject: string;
  /** From the providers claim; null = all (`*`). A token without the claim gets an empty set (fail closed). */
  providers: ReadonlySet<string> | null;
  /** From the permissions claim; a token without it has none. */
  permissions: ReadonlySet<string>;
}

export interface JwtVerifierOptions {
  /** Clock for `exp`/`nbf`, epoch ms. @default Date.now */
  now?: () => number;
  /** JWKS URL fetch timeout, milliseconds. @default 5_000 */
  jwksTimeoutMs?: number;
  /** How long a fetched JWKS is used before it is fetched again, milliseconds. @default 600_000 (10 min) */
  jwksCacheMaxAgeMs?: number;
}

export class JwtVerifier {
  readonly #config: JwtConfig;
  readonly #key: Uint8Array | JWTVerifyGetKey;
  readonly #algorithms: string[];
  readonly #now: () => number;
  /** The keys come from a URL: a non-jose failure there is the key set being unreachable. */
  readonly #remote: boolean;

  /** Throws ConfigError when the JWKS file cannot be read or is not a key set (start-up and reload). */
  constructor(config: JwtConfig, options: JwtVerifierOptions = {}) {
    this.#config = config;
    this.#now = options.now ?? Date.now;
    this.#remote = config.jwksUrl !== undefined;
    if (config.secret !== undefined) {
      this.#key = new TextEncoder().encode(config.secret);
      this.#algorithms = config.algorithms ?? ['HS256'];
    } else if (config.jwksFile !== undefined) {
      this.#key = loadJwksFile(config.jwksFile);
      this.#algorithms = config.algorithms ?? [...JWKS_DEFAULT_ALGORITHMS];
    } else if (config.jwksUrl !== undefined) {
      this.#key = createRemoteJWKSet(new URL(config.jwksUrl), {
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
        cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
      });
      this.#algorithms = config.algorithms ?? [...JWKS_DEFAULT_ALGORITHMS];
    } else {
      throw new ConfigError(['auth.jwt: needs a secret, jwksFile or jwksUrl']);
    }
  }

  /** Throws UnauthenticatedError (with a reason, never the token) when the token does not verify. */
  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      const options = {
        issuer: this.#config.issuer,
        audience: this.#config.audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#config.clockToleranceSeconds,
        currentDate: new Date(this.#now()),
        requiredClaims: ['sub', 'exp'],
      };
      // Two calls because jose types the key argument per overload (bytes vs. a key resolver).
      payload = (typeof this.#key === 'function' ? await jwtVerify(token, this.#key, options) : await jwtVerify(token, this.#key, options)).payload;
    } catch (err) {
      throw toUnauthenticated(err, this.#remote);
    }
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      throw new UnauthenticatedError(UnauthenticatedReason.TokenInvalidSubject, 'token "sub" claim must be a non-empty string');
    }
    return { subject, providers: providersFromClaim(payload[this.#config.providersClaim]), permissions: permissionsFromClaim(payload[this.#config.permissionsClaim]) };
  }
}

/** A malformed permissions claim grants nothing (fail closed) rather than refusing the token. */
function permissionsFromClaim(value: unknown): ReadonlySet<string> {
  const names = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value : [];
  return new Set(names.filter((n): n is string => typeof n === 'string' && (PERMISSIONS as readonly string[]).includes(n)));
}

function providersFromClaim(value: unknown): ReadonlySet<string> | null {
  if (value === undefined) return new Set();
  let names: unknown[];
  if (typeof value === 'string') names = value.split(/\s+/).filter(Boolean);
  else if (Array.isArray(value)) names = value;
  else throw new UnauthenticatedError(UnauthenticatedReason.TokenInvalidProviders, 'token providers claim must be a list of provider names or a space-separated string');
  if (!names.every((n): n is string => typeof n === 'string')) {
    throw new UnauthenticatedError(UnauthenticatedReason.TokenInvalidProviders, 'token providers claim must contain only strings');
  }
  return names.includes('*') ? null : new Set(names);
}

function loadJwksFile(path: string): JWTVerifyGetKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`auth.jwt.jwksFile: cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  try {
    const jwks = JSON.parse(text) as unknown;
    if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) throw new Error('no "keys" array');
    return createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
  } catch (err) {
    throw new ConfigError([`auth.jwt.jwksFile: "${path}" is not a JSON Web Key Set (${err instanceof Error ? err.message.split('\n')[0] : 'invalid'})`]);
  }
}

/** jose's failures as client errors: a reason code clients and operators can act on, nothing from the token. */
function toUnauthenticated(err: unknown, remote: boolean): UnauthenticatedError {
  if (err instanceof UnauthenticatedError) return err;
  if (err instanceof joseErrors.JWTExpired) return new UnauthenticatedError(UnauthenticatedReason.TokenExpired, 'token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new UnauthenticatedError(UnauthenticatedReason.TokenClaimMissing, `token has no "${err.claim}" claim`, { claim: err.claim });
    const what: Record<string, string> = { iss: 'issuer', aud: 'audience', nbf: 'not-before time', iat: 'issue time' };
    return new UnauthenticatedError(UnauthenticatedReason.TokenClaimInvalid, `token ${what[err.claim] ?? `"${err.claim}" claim`} is not accepted`, { claim: err.claim });
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new UnauthenticatedError(UnauthenticatedReason.TokenAlgorithm, 'token algorithm is not accepted');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new UnauthenticatedError(UnauthenticatedReason.TokenSignature, 'token signature is invalid');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new UnauthenticatedError(UnauthenticatedReason.TokenKeyUnknown, 'no known key matches the token');
  if (err instanceof joseErrors.JWKSTimeout || (remote && !(err instanceof joseErrors.JOSEError))) {
    // The key set URL is down or slow: the caller cannot fix that, but it is still not authenticated.
    return new UnauthenticatedError(UnauthenticatedReason.JwksUnavailable, 'token could not be verified: the key set is unavailable');
  }
  return new UnauthenticatedError(UnauthenticatedReason.TokenMalformed, 'token is malformed');
}
