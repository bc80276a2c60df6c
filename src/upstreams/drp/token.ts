/**
 * Exchanges a DRP user's password for a bearer token: `GET /api/v3/users/{name}/token?ttl=<s>`
 * with Basic auth answers `{"Token":"...","Info":{...}}`. Holding a token rather than the password
 * on every connection limits what a captured handshake reveals.
 */
import { request, type Dispatcher } from 'undici';
import { UpstreamAuthFailedError, UpstreamResponseError, UpstreamUnavailableError } from '../../errors.js';
import { tokenPath } from './wire.js';

export interface DrpToken {
  /** The bearer token. Secret: never log it. */
  value: string;
  /** When it was issued, epoch ms (the caller's clock). */
  issuedAtMs: number;
  /** When DRP will stop accepting it, epoch ms (the caller's clock). */
  expiresAtMs: number;
}

export interface FetchDrpTokenOptions {
  /** Provider name, for error messages. */
  provider: string;
  /** http(s)://host:port of the DRP endpoint. */
  baseUrl: string;
  username: string;
  password: string;
  /** Lifetime to ask for, in seconds. */
  ttlSeconds: number;
  /** Carries the TLS settings (CA, insecure) and timeouts. */
  dispatcher: Dispatcher;
  /** Clock, epoch ms. */
  now: () => number;
}

export async function fetchDrpToken(options: FetchDrpTokenOptions): Promise<DrpToken> {
  const { provider } = options;
  const issuedAtMs = options.now();
  let response: Dispatcher.ResponseData;
  try {
    response = await request(new URL(tokenPath(options.username, options.ttlSeconds), options.baseUrl), {
      method: 'GET',
      dispatcher: options.dispatcher,
      headers: {
        authorization: `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`,
        accept: 'application/json',
      },
    });
  } catch (err) {
    throw new UpstreamUnavailableError(provider, `token request failed (${networkReason(err)})`, { cause: err });
  }
  const { statusCode } = response;
  const text = await response.body.text().catch(() => '');
  if (statusCode === 401 || statusCode === 403) {
    throw new UpstreamAuthFailedError(provider, `HTTP ${statusCode} from the token endpoint`);
  }
  if (statusCode !== 200) {
    throw new UpstreamResponseError(provider, `HTTP ${statusCode} from the token endpoint`, { status: statusCode });
  }
  let token: unknown;
  try {
    token = (JSON.parse(text) as { Token?: unknown }).Token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '') {
    throw new UpstreamResponseError(provider, 'the token endpoint answered without a Token');
  }
  return { value: token, issuedAtMs, expiresAtMs: issuedAtMs + options.ttlSeconds * 1000 };
}

/** A secret-free reason: the error code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT...) rather than a message. */
export function networkReason(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return 'connection failed';
}
