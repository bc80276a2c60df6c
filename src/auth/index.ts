/** Client authentication, authorization by provider, and per-caller limits. */
export { GatewayAccess, callerLimitsOf, logAuthPosture } from './access.js';
export type { CallerLimits, GatewayAccessOptions } from './access.js';
export { ApiKeyVerifier, generateApiKey, hashApiKey } from './api-keys.js';
export { Authenticator } from './authenticator.js';
export { ConcurrencyCaps } from './concurrency-caps.js';
export { authSchema, AUTH_MODES, JWT_SECRET_ENV } from './config-schema.js';
export type { AuthConfig, AuthMode, JwtConfig } from './config-schema.js';
export { credentialFromConnectionParams, credentialFromHeaders } from './credentials.js';
export { ForbiddenError, RateLimitedError, UnauthenticatedError, UnauthenticatedReason } from './errors.js';
export { HASH_KEY_USAGE, runHashKeyCommand } from './hash-key-command.js';
export { authenticateHttp, principalOf } from './http.js';
export { isLoopbackHost } from './loopback.js';
export { OriginPolicy } from './origin.js';
export { ANONYMOUS, allowsProvider, assertProviderAllowed } from './principal.js';
export type { Principal } from './principal.js';
export { KeyedTokenBucket } from './token-bucket.js';
