/**
 * Login and token checks. CloudTower sends the login token back raw in `Authorization` (no
 * `Bearer`); tokens do not expire while the user exists, and API keys are used the same way
 * (UPSTREAMS.md, from cloudtower-api-doc GetToken).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const LOGIN_SOURCES = ['LOCAL', 'LDAP', 'AUTHN', 'SSO'] as const;
export type LoginSource = (typeof LOGIN_SOURCES)[number];

export interface SimulatedUser {
  username: string;
  password: string;
  /** The `source` the user must log in with. @default 'LOCAL' */
  source?: LoginSource;
}

export function isLoginSource(value: unknown): value is LoginSource {
  return typeof value === 'string' && (LOGIN_SOURCES as readonly string[]).includes(value);
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** A JWT-shaped token (CloudTower's tokens look like JWTs); the signature is just random bytes. */
function newLoginToken(username: string, now: number): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ username, iat: Math.floor(now / 1000), jti: randomBytes(8).toString('hex') }));
  return `${header}.${payload}.${base64url(randomBytes(32))}`;
}

export class SessionStore {
  readonly #users: SimulatedUser[];
  readonly #apiKeys: string[];
  readonly #tokens = new Set<string>();
  readonly #now: () => number;
  /** Successful logins since start. */
  loginCount = 0;

  constructor(users: SimulatedUser[], apiKeys: string[], now: () => number) {
    this.#users = users.map((u) => ({ ...u }));
    this.#apiKeys = [...apiKeys];
    this.#now = now;
  }

  /** A fresh token, or null when the username/password/source triple matches no user. */
  login(username: unknown, password: unknown, source: LoginSource): string | null {
    if (typeof username !== 'string' || typeof password !== 'string') return null;
    const user = this.#users.find(
      (u) => u.username === username && sameSecret(u.password, password) && (u.source ?? 'LOCAL') === source,
    );
    if (!user) return null;
    const token = newLoginToken(user.username, this.#now());
    this.#tokens.add(token);
    this.loginCount += 1;
    return token;
  }

  /** The raw `Authorization` header value is an issued login token or a configured API key. */
  isAuthorized(header: string | undefined): boolean {
    if (!header) return false;
    return this.#tokens.has(header) || this.#apiKeys.some((key) => sameSecret(key, header));
  }

  /** Forget every login token (API keys stay valid): the next call with an old token gets 401. */
  revokeTokens(): void {
    this.#tokens.clear();
  }
}
