/**
 * Where a caller's credential comes from. HTTP: `Authorization: Bearer <jwt>`,
 * `Authorization: ApiKey <key>` or `x-api-key: <key>`. graphql-ws: the same inside
 * `connectionParams` (`{ authorization }`, `{ apiKey }`), because browsers cannot set headers on a
 * WebSocket; the upgrade request's own headers are a fallback for non-browser clients.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type Credential =
  | { kind: 'none' }
  /** `Bearer <value>`: a JWT, or an API key for clients that can only send Bearer. */
  | { kind: 'bearer'; value: string }
  | { kind: 'apiKey'; value: string }
  /** Something was sent but cannot be used: unknown scheme, or two credentials at once. */
  | { kind: 'invalid'; reason: 'UNSUPPORTED_SCHEME' | 'AMBIGUOUS' };

/** Longest credential looked at; anything longer is refused without being hashed or parsed. */
const MAX_CREDENTIAL_LENGTH = 8192;

function fromAuthorization(value: string): Credential {
  const match = /^([A-Za-z][A-Za-z0-9-]*)\s+(\S+)\s*$/.exec(value.trim());
  if (!match || match[2]!.length > MAX_CREDENTIAL_LENGTH) return { kind: 'invalid', reason: 'UNSUPPORTED_SCHEME' };
  const scheme = match[1]!.toLowerCase();
  if (scheme === 'bearer') return { kind: 'bearer', value: match[2]! };
  if (scheme === 'apikey') return { kind: 'apiKey', value: match[2]! };
  return { kind: 'invalid', reason: 'UNSUPPORTED_SCHEME' };
}

function combine(authorization: string | undefined, apiKey: string | undefined): Credential {
  if (authorization !== undefined && apiKey !== undefined) return { kind: 'invalid', reason: 'AMBIGUOUS' };
  if (authorization !== undefined) return fromAuthorization(authorization);
  if (apiKey !== undefined) {
    const value = apiKey.trim();
    return value.length > 0 && value.length <= MAX_CREDENTIAL_LENGTH ? { kind: 'apiKey', value } : { kind: 'invalid', reason: 'UNSUPPORTED_SCHEME' };
  }
  return { kind: 'none' };
}

function single(value: string | string[] | undefined): string | undefined {
  // A repeated header is two credentials: refuse rather than pick one.
  if (Array.isArray(value)) return value.length === 1 ? value[0] : value.length === 0 ? undefined : '\u0000ambiguous';
  return value;
}

export function credentialFromHeaders(headers: IncomingHttpHeaders): Credential {
  const authorization = single(headers.authorization);
  const apiKey = single(headers['x-api-key']);
  if (authorization === '\u0000ambiguous' || apiKey === '\u0000ambiguous') return { kind: 'invalid', reason: 'AMBIGUOUS' };
  return combine(authorization, apiKey);
}

/** graphql-ws `connectionParams`: `{ authorization: 'Bearer …' | 'ApiKey …' }` or `{ apiKey: '…' }` (key names case-insensitive, `x-api-key` too). */
export function credentialFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): Credential {
  if (!params) return { kind: 'none' };
  let authorization: string | undefined;
  let apiKey: string | undefined;
  for (const [name, value] of Object.entries(params)) {
    const key = name.toLowerCase();
    if (key !== 'authorization' && key !== 'apikey' && key !== 'x-api-key') continue;
    if (typeof value !== 'string') return { kind: 'invalid', reason: 'UNSUPPORTED_SCHEME' };
    if (key === 'authorization') {
      if (authorization !== undefined) return { kind: 'invalid', reason: 'AMBIGUOUS' };
      authorization = value;
    } else {
      if (apiKey !== undefined) return { kind: 'invalid', reason: 'AMBIGUOUS' };
      apiKey = value;
    }
  }
  return combine(authorization, apiKey);
}
