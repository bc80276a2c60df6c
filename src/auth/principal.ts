/**
 * Who is asking, as the rest of the gateway sees it once authentication is done: an id for the
 * audit trail, per-caller limits and tickets, and the providers the caller may use.
 */
import { ForbiddenError } from './errors.js';

export type AuthMethod = 'none' | 'apiKey' | 'jwt';

export interface Principal {
  /**
   * Stable, secret-free id: `apikey:<key name>`, `jwt:<sub>`, or `anonymous` when auth is off. The
   * method prefix keeps a key named "alice" and a token for subject "alice" apart in audit lines
   * and rate limits.
   */
  readonly id: string;
  readonly method: AuthMethod;
  /** Provider names this caller may use; null = every configured provider. */
  readonly providers: ReadonlySet<string> | null;
  /** Gateway permissions beyond using providers (`PERMISSIONS`); null = all (anonymous on loopback). @default none */
  readonly permissions?: ReadonlySet<string> | null;
}

/**
 * Permissions a caller may be given (API key `permissions`, JWT `permissionsClaim`):
 * - `consoles.admin`: list every caller's console sessions and terminate any of them.
 */
export const PERMISSIONS = ['consoles.admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function hasPermission(principal: Principal, permission: Permission): boolean {
  return principal.permissions === null || (principal.permissions?.has(permission) ?? false);
}

/** Every caller when `auth.mode` is `none`. */
export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', method: 'none', providers: null, permissions: null });

export function allowsProvider(principal: Principal, provider: string): boolean {
  return principal.providers === null || principal.providers.has(provider);
}

/**
 * Throws FORBIDDEN unless the caller may use `provider`. Checked before the provider's existence
 * so a restricted caller cannot probe which provider names are configured.
 */
export function assertProviderAllowed(principal: Principal, provider: string): void {
  if (!allowsProvider(principal, provider)) {
    throw new ForbiddenError(`provider "${provider}" is not allowed for this caller`, { provider });
  }
}
