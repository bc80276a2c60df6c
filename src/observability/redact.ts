/**
 * Secret scrubbing for log objects, at any depth. pino's `redact` paths cover the known shapes
 * cheaply; this catches the rest: a secret-named key nested deeper than the paths reach, a URL whose
 * query carries `ticket=` or `token=`, an `Authorization`-style value inside a string, a `ticket.`
 * WebSocket subprotocol.
 */

export const REDACTED = '[redacted]';

/**
 * Field names whose values are secrets wherever they appear, as they are spelled in log objects.
 * The logger turns them into pino redact paths; the scrubber compares them case-insensitively with
 * `-`/`_` ignored, so `raw_token`, `x-api-key` and `Set-Cookie` match too.
 */
export const SECRET_FIELDS = [
  'authorization',
  'proxyAuthorization',
  'cookie',
  'setCookie',
  'password',
  'passwd',
  'vncPassword',
  'secret',
  'clientSecret',
  'token',
  'raw_token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'xApiKey',
  'ticket',
  'credentials',
  'connectionParams',
  'secWebsocketProtocol',
] as const;

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

const SECRET_KEYS = new Set<string>(SECRET_FIELDS.map(normaliseKey));

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(normaliseKey(key));
}

const QUERY_SECRET = /([?&;](?:ticket|token|raw_token|password|access_token|api_?key)=)[^&#\s"']*/gi;
const AUTH_SCHEME_VALUE = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const TICKET_SUBPROTOCOL = /\bticket\.[A-Za-z0-9_-]{8,}/g;

/** A string with credential-looking parts replaced. */
export function scrubString(s: string): string {
  if (s.length < 8) return s;
  return s.replace(QUERY_SECRET, `$1${REDACTED}`).replace(AUTH_SCHEME_VALUE, `$1 ${REDACTED}`).replace(TICKET_SUBPROTOCOL, `ticket.${REDACTED}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with secret-named keys replaced and strings scrubbed. Plain objects and arrays
 * are walked up to `maxDepth`; anything else (Errors, Buffers, class instances) is left for pino's
 * serializers.
 */
export function scrubSecrets<T>(value: T, maxDepth = 8): T {
  return scrub(value, maxDepth) as T;
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (depth <= 0) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth - 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : scrub(v, depth - 1);
  return out;
}
