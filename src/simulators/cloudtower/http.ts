/** Request/response plumbing for the simulator's REST and GraphQL endpoints (node:http only). */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CloudTower's REST error body, as shown in its API docs for `ResourceLocked`:
 * `{"path":"/remove-vm-disk","status":400,"message":"...","props":{...},"code":"ResourceLocked"}`.
 * `path` is the operation path without the `/v2/api` prefix. The codes this simulator uses for
 * other failures (`Unauthorized`, `LoginFailed`, ...) are *unverified* names.
 */
export interface RestErrorBody {
  path: string;
  status: number;
  message: string;
  code: string;
  props: Record<string, unknown>;
}

/** A failure a route reports as a REST error body. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly props: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RestError';
  }
}

/** Body reading refuses more than this many bytes (HTTP 413). */
export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parse a JSON body; an empty body is `undefined`, anything unparsable the raw text. */
export function parseBody(text: string): { ok: true; value: unknown } | { ok: false; text: string } {
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, text };
  }
}

/** `/v2/api/get-vms` -> `/get-vms`, the form CloudTower puts in an error's `path`. */
export function operationPath(pathname: string): string {
  return pathname.startsWith('/v2/api/') ? pathname.slice('/v2/api'.length) : pathname;
}

export function restErrorBody(pathname: string, err: RestError): RestErrorBody {
  return { path: operationPath(pathname), status: err.status, message: err.message, code: err.code, props: err.props };
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
  contentType = 'application/json; charset=utf-8',
): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, JSON.stringify(body), headers);
}
