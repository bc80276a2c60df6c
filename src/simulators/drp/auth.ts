/**
 * Credential checks for the DRP simulator: users with passwords, and bearer tokens with a ttl.
 *
 * DRP accepts `Authorization: Basic`, `Authorization: Bearer`, or (browsers cannot set headers on a
 * WebSocket) the query parameter `token`: a value with `:` is user:password, anything else a token.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AuthMethod = 'basic' | 'bearer' | 'query-password' | 'query-token';

export type AuthResult =
  | { ok: true; user: string; method: AuthMethod }
  /** 401: no credentials at all; 403: credentials that were refused. */
  | { ok: false; status: 401 | 403; message: string };

export class SimulatorAuth {
  private readonly tokens = new Map<string, { user: string; expiresAtMs: number }>();

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly now: () => number,
  ) {}

  hasUser(user: string): boolean {
    return this.users.has(user);
  }

  /** Issues a random opaque token (real DRP issues a signed JWT; clients treat both as opaque). */
  issueToken(user: string, ttlSeconds: number): string {
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { user, expiresAtMs: this.now() + ttlSeconds * 1000 });
    return token;
  }

  /** Forgets every token (as a DRP restart with a new signing secret would). */
  revokeAllTokens(): void {
    this.tokens.clear();
  }

  authenticate(req: IncomingMessage): AuthResult {
    const header = req.headers.authorization;
    if (header) {
      const space = header.indexOf(' ');
      const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
      const value = space < 0 ? '' : header.slice(space + 1).trim();
      if (scheme === 'basic') return this.checkPassword(Buffer.from(value, 'base64').toString('utf8'), 'basic');
      if (scheme === 'bearer') return this.checkToken(value, 'bearer');
      return { ok: false, status: 403, message: 'unsupported authorization scheme' };
    }
    const query = new URL(req.url ?? '/', 'http://drp').searchParams.get('token');
    if (query === null || query === '') return { ok: false, status: 401, message: 'no credentials' };
    return query.includes(':') ? this.checkPassword(query, 'query-password') : this.checkToken(query, 'query-token');
  }

  private checkPassword(userPass: string, method: AuthMethod): AuthResult {
    const colon = userPass.indexOf(':');
    const user = colon < 0 ? userPass : userPass.slice(0, colon);
    const password = colon < 0 ? '' : userPass.slice(colon + 1);
    const expected = this.users.get(user);
    if (expected === undefined || expected !== password) return { ok: false, status: 403, message: 'invalid user or password' };
    return { ok: true, user, method };
  }

  private checkToken(token: string, method: AuthMethod): AuthResult {
    const entry = this.tokens.get(token);
    if (!entry) return { ok: false, status: 403, message: 'invalid token' };
    if (this.now() >= entry.expiresAtMs) {
      this.tokens.delete(token);
      return { ok: false, status: 403, message: 'token expired' };
    }
    return { ok: true, user: entry.user, method };
  }
}
