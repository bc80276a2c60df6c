/**
 * Transport failures (undici requests, ws sockets: refused, DNS, TLS, timeouts) mapped to the
 * gateway's UpstreamUnavailableError in one place. Only the error code goes into the message: the
 * libraries' messages can carry the request URL, and with it credentials in a query string.
 */
import { UpstreamUnavailableError } from '../../errors.js';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * The code of a transport error (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, UND_ERR_CONNECT_TIMEOUT...),
 * looking a few levels into `cause`: fetch-style APIs wrap the socket error. 'UNKNOWN' when none.
 */
export function transportErrorCode(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return 'UNKNOWN';
}

/**
 * UpstreamUnavailableError for a transport failure. Without `what`, the reason says whether it timed
 * out or could not connect; with it (`event socket failed`), the reason is `<what> (<code>)`.
 */
export function transportError(provider: string, err: unknown, what?: string): UpstreamUnavailableError {
  const code = transportErrorCode(err);
  const reason = what !== undefined ? `${what} (${code})` : TIMEOUT_CODES.has(code) ? `timed out (${code})` : `cannot connect (${code})`;
  return new UpstreamUnavailableError(provider, reason, { cause: err });
}
