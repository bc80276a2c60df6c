/**
 * Request ids: an incoming `x-request-id` is kept when it is sane (so a load balancer's id ties its
 * logs to ours), else one is generated. "Sane" is short and from a conservative alphabet: the value
 * is echoed in a response header and written to logs, so it must not carry CR/LF, quotes or a
 * megabyte of attacker text.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

export function isSaneRequestId(value: unknown): value is string {
  return typeof value === 'string' && SANE_REQUEST_ID.test(value);
}

/** The incoming id when sane, else a fresh UUID. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const incoming = headers[REQUEST_ID_HEADER];
  return isSaneRequestId(incoming) ? incoming : randomUUID();
}
