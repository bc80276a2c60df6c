/**
 * One upstream HTTP request with two bounds a peer cannot stretch (issue 10):
 * - a whole-request deadline (`timeouts.requestMs`): headers AND body, via an AbortSignal. undici's
 *   own `bodyTimeout` only measures silence between chunks, so a body dripping one byte at a time
 *   never trips it. Aborting destroys the socket, which frees the pooled connection.
 * - a body-size cap (`limits.maxResponseBytes`): checked against Content-Length up front and counted
 *   while streaming, so the gateway never holds more than the cap of one answer.
 * Used by the CloudTower client, the Abiquo client and the DRP token call.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { systemClock, type Clock } from '../../clock.js';
import { GatewayError, UpstreamResponseTooLargeError, UpstreamTimeoutError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { reportUpstreamBound } from '../../observability/upstream-limits.js';
import { transportError, transportErrorCode } from './transport-errors.js';

// undici's own silence timers (headersTimeout, bodyTimeout) are set to the same requestMs: whichever
// fires first, the caller learns the same thing.
const DEADLINE_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export interface RequestBounds {
  /** Deadline for the whole request in milliseconds, and the config key that sets it (for messages). */
  deadlineMs: number;
  deadlineKey: string;
  /** Cap on the response body in bytes, and the config key that sets it. */
  maxBytes: number;
  maxBytesKey: string;
}

export interface BoundedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body decoded as UTF-8. */
  text: string;
}

export interface BoundedRequestOptions {
  provider: string;
  /** What is being asked, without URLs or ids (`POST /v2/api/get-vms`): for messages and logs. */
  what: string;
  bounds: RequestBounds;
  /** Logs each bound passed (warn); absent: not logged here. */
  logger?: Pick<Logger, 'warn'> | undefined;
  /** Reason for transport failures (see transportError); absent: "timed out" / "cannot connect". */
  transportWhat?: string | undefined;
  /** Runs the deadline timer. @default systemClock */
  clock?: Pick<Clock, 'setTimeout' | 'clearTimeout'> | undefined;
}

type RequestOptions = Omit<Dispatcher.RequestOptions, 'signal'>;

/**
 * Sends `request` through `dispatcher` and reads the whole body within the bounds. Throws
 * UpstreamTimeoutError, UpstreamResponseTooLargeError or (transport failures) UpstreamUnavailableError.
 */
export async function boundedRequest(dispatcher: Dispatcher, request: RequestOptions, opts: BoundedRequestOptions): Promise<BoundedAnswer> {
  const { provider, what, bounds } = opts;
  const abort = new AbortController();
  const clock = opts.clock ?? systemClock;
  const timer = clock.setTimeout(() => abort.abort(), bounds.deadlineMs);
  const timedOut = (): GatewayError => exceeded(opts, 'request_deadline', new UpstreamTimeoutError(provider, what, bounds.deadlineMs, bounds.deadlineKey));
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({ ...request, signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted || DEADLINE_CODES.has(transportErrorCode(err))) throw timedOut();
      throw transportError(provider, err, opts.transportWhat);
    }
    const tooLarge = (): GatewayError => {
      // Destroying the body aborts the request and closes its socket: nothing more is read.
      discardBody(res.body);
      return exceeded(opts, 'response_bytes', new UpstreamResponseTooLargeError(provider, `an answer to ${what}`, bounds.maxBytes, bounds.maxBytesKey));
    };
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > bounds.maxBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > bounds.maxBytes) throw tooLarge();
        chunks.push(buf);
      }
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      if (abort.signal.aborted || DEADLINE_CODES.has(transportErrorCode(err))) throw timedOut();
      throw transportError(provider, err, opts.transportWhat);
    }
    return { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks, size).toString('utf8') };
  } finally {
    clock.clearTimeout(timer);
  }
}

/**
 * Stops reading a body and closes its connection (the pool opens a fresh one). undici's body emits
 * an AbortError when destroyed; nobody else listens then, so it is swallowed here.
 */
export function discardBody(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

function exceeded(opts: BoundedRequestOptions, bound: 'request_deadline' | 'response_bytes', error: GatewayError): GatewayError {
  reportUpstreamBound(opts.provider, bound);
  opts.logger?.warn({ code: error.code, bound, what: opts.what }, 'upstream went past a bound; request abandoned');
  return error;
}
