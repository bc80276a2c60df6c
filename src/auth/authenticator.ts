/**
 * Turns a credential into a Principal according to `auth.mode`, and answers, at ticket
 * redemption, whether a caller may still use a provider under the current config.
 */
import { ApiKeyVerifier } from './api-keys.js';
import type { AuthConfig, AuthMode } from './config-schema.js';
import type { Credential } from './credentials.js';
import { UnauthenticatedError, UnauthenticatedReason } from './errors.js';
import { JwtVerifier, type JwtVerifierOptions } from './jwt.js';
import { ANONYMOUS, type Principal } from './principal.js';

/** Three base64url segments: what a compact JWS looks like (an API key has no dots). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const API_KEY_PREFIX = 'apikey:';
const JWT_PREFIX = 'jwt:';

interface State {
  mode: AuthMode;
  keys: ApiKeyVerifier | null;
  jwt: JwtVerifier | null;
}

export class Authenticator {
  #state: State;
  readonly #jwtOptions: JwtVerifierOptions;

  /** `auth` undefined (a config without the section) behaves as `mode: none`. Throws ConfigError for an unreadable JWKS file. */
  constructor(auth: AuthConfig | undefined, jwtOptions: JwtVerifierOptions = {}) {
    this.#jwtOptions = jwtOptions;
    this.#state = Authenticator.#build(auth, jwtOptions);
  }

  static #build(auth: AuthConfig | undefined, jwtOptions: JwtVerifierOptions): State {
    const mode = auth?.mode ?? 'none';
    return {
      mode,
      keys: auth && (mode === 'apiKey' || mode === 'apiKey+jwt') ? new ApiKeyVerifier(auth.apiKeys) : null,
      jwt: auth?.jwt && (mode === 'jwt' || mode === 'apiKey+jwt') ? new JwtVerifier(auth.jwt, jwtOptions) : null,
    };
  }

  get mode(): AuthMode {
    return this.#state.mode;
  }

  /** Swap in a new auth config (SIGHUP). Builds everything first: a bad config throws and the old one stays. */
  update(auth: AuthConfig | undefined): void {
    this.#state = Authenticator.#build(auth, this.#jwtOptions);
  }

  /** The caller behind a credential; throws UnauthenticatedError (HTTP 401, graphql-ws 4401/4403). */
  async authenticate(credential: Credential): Promise<Principal> {
    const { mode, keys, jwt } = this.#state;
    if (mode === 'none') return ANONYMOUS;
    switch (credential.kind) {
      case 'none':
        throw new UnauthenticatedError(UnauthenticatedReason.CredentialsMissing, `credentials required: send ${describeAccepted(mode)}`);
      case 'invalid':
        throw credential.reason === 'AMBIGUOUS'
          ? new UnauthenticatedError(UnauthenticatedReason.CredentialsAmbiguous, 'send exactly one credential')
          : new UnauthenticatedError(UnauthenticatedReason.CredentialsUnsupported, `unsupported credentials: send ${describeAccepted(mode)}`);
      case 'bearer':
        if (jwt && (JWT_SHAPE.test(credential.value) || !keys)) {
          const token = await jwt.verify(credential.value);
          return { id: `${JWT_PREFIX}${token.subject}`, method: 'jwt', providers: token.providers, permissions: token.permissions };
        }
        // Many clients can only send Bearer: let an API key travel that way too.
        return this.#apiKey(keys, credential.value);
      case 'apiKey':
        return this.#apiKey(keys, credential.value);
    }
  }

  #apiKey(keys: ApiKeyVerifier | null, value: string): Principal {
    if (!keys) throw new UnauthenticatedError(UnauthenticatedReason.CredentialsUnsupported, 'API keys are not accepted here: send a bearer token');
    const entry = keys.verify(value);
    if (!entry) throw new UnauthenticatedError(UnauthenticatedReason.ApiKeyUnknown, 'unknown API key');
    return { id: `${API_KEY_PREFIX}${entry.name}`, method: 'apiKey', providers: entry.providers ? new Set(entry.providers) : null, permissions: new Set(entry.permissions ?? []) };
  }

  /**
   * At ticket redemption: may the caller that minted the ticket still use `provider`? An API key
   * is looked up again (a reload may have removed it or narrowed its providers); a JWT caller's
   * providers came from a token we no longer hold, so only "tokens are still accepted" is checked
   * (tickets live seconds). Anonymous tickets die when auth is turned on.
   */
  mayStillUse(callerId: string, provider: string): boolean {
    const { mode, keys, jwt } = this.#state;
    if (mode === 'none') return true;
    if (callerId.startsWith(API_KEY_PREFIX)) {
      const entry = keys?.byName(callerId.slice(API_KEY_PREFIX.length));
      return entry !== undefined && (entry.providers === undefined || entry.providers.includes(provider));
    }
    if (callerId.startsWith(JWT_PREFIX)) return jwt !== null;
    return false;
  }
}

function describeAccepted(mode: AuthMode): string {
  if (mode === 'apiKey') return '`Authorization: ApiKey <key>` or `x-api-key`';
  if (mode === 'jwt') return '`Authorization: Bearer <token>`';
  return '`Authorization: Bearer <token>`, `Authorization: ApiKey <key>` or `x-api-key`';
}
