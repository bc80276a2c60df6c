/**
 * Exchanges a DRP user's password for a bearer token: `GET /api/v3/users/{name}/token?ttl=<s>`
 * with Basic auth answers `{"Token":"...","Info":{...}}`. Holding a token rather than the password
 * on every connection limits what a captured handshake reveals.
 */
import type { Dispatcher } from 'undici';
import { UpstreamAuthFailedError, UpstreamResponseError } from '../../errors.js';
import { basicAuthorization } from '../shared/auth-headers.js';
import { boundedRequest, type RequestBounds } from '../shared/bounded-request.js';
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
  /** Deadline and body cap of the token request. */
  bounds: RequestBounds;
  /** Clock, epoch ms. */
  now: () => number;
}

export async function fetchDrpToken(options: FetchDrpTokenOptions): Promise<DrpToken> {
  const { provider } = options;
  const issuedAtMs = options.now();
  const url = new URL(tokenPath(options.username, options.ttlSeconds), options.baseUrl);
  const response = await boundedRequest(
    options.dispatcher,
    {
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'GET',
      headers: {
        authorization: basicAuthorization(options.username, options.password),
        accept: 'application/json',
      },
    },
    { provider, what: 'the token request', bounds: options.bounds, transportWhat: 'token request failed' },
  );
  const { status: statusCode, text } = response;
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
