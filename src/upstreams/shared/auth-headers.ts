/** `Authorization` header values, as the three upstream kinds send them. They carry secrets: never log them. */

/** RFC 7617 Basic credentials (Abiquo users, DRP's token endpoint). */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * A token with its scheme (`Token` for Abiquo, `Bearer` for DRP), or the bare token when the
 * upstream wants it raw (CloudTower sends its session token without a scheme; see UPSTREAMS.md).
 */
export function tokenAuthorization(token: string, scheme: 'Token' | 'Bearer' | null): string {
  return scheme === null ? token : `${scheme} ${token}`;
}
