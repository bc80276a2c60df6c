/** Maps transport failures from undici to the gateway's upstream error classes. */
import { UpstreamUnavailableError } from '../errors.js';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * Turn an error thrown by undici (connection refused, DNS, TLS, timeout) into UpstreamUnavailableError.
 * Only the error code goes into the message: undici messages can carry the request URL.
 */
export function transportError(provider: string, err: unknown): UpstreamUnavailableError {
  const code = (err as { code?: unknown })?.code;
  const codeText = typeof code === 'string' ? code : 'UNKNOWN';
  const reason = TIMEOUT_CODES.has(codeText) ? `timed out (${codeText})` : `cannot connect (${codeText})`;
  return new UpstreamUnavailableError(provider, reason, { cause: err });
}
