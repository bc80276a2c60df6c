/**
 * The simulator's HTTP pipeline and routes. Order per request: read the body, log it, wait the
 * configured latency, apply an injected fault, check `content-language`, route, check the token.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { executeCloudTowerGraphql, isVmNotFoundError, resolveVnc } from './graphql.js';
import type { VmWhereUnique } from './graphql.js';
import { BodyTooLargeError, parseBody, readBody, RestError, restErrorBody, sendJson, sendText } from './http.js';
import { GARBAGE_BODY } from './faults.js';
import type { FaultPlan } from './faults.js';
import { isLoginSource, LOGIN_SOURCES } from './sessions.js';
import type { SessionStore } from './sessions.js';
import type { VncAnswer } from './vnc-credentials.js';
import { toApiVm, VM_WHERE_SCHEMA } from './vms.js';
import type { SimulatedVm } from './vms.js';
import { applyListArgs, compileWhere, QueryInputError } from './where.js';
import type { ListArgs } from './where.js';

/** One HTTP request as the simulator saw it. The `authorization` header is never kept. */
export interface RequestLogEntry {
  method: string;
  /** Pathname, without the query string. */
  path: string;
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  /** Request headers (lower-case names), with `authorization` replaced by `[redacted]`. */
  headers: Record<string, string | string[] | undefined>;
  /** Status of the answer; null while unanswered (latency, hang). */
  status: number | null;
}

export interface RouteContext {
  readonly sessions: SessionStore;
  readonly faults: FaultPlan;
  /** Milliseconds added before each answer. */
  latencyMs(): number;
  /** The live VM store, in insertion order. */
  vms(): readonly SimulatedVm[];
  findVm(where: VmWhereUnique): SimulatedVm | null;
  issueVnc(vm: SimulatedVm): VncAnswer;
  record(entry: RequestLogEntry): void;
}

// UPSTREAMS.md: anything else is HTTP 400.
const CONTENT_LANGUAGES = new Set(['zh-CN', 'en-US', '*']);

type RouteResult = { status: number; body: unknown };
type Route = (body: unknown, ctx: RouteContext) => Promise<RouteResult> | RouteResult;

function asObject(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RestError(400, 'InvalidInput', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function listVmsArgs(body: unknown): ListArgs {
  const { where, orderBy, skip, first, last, after, before } = asObject(body);
  return { where, orderBy, skip, first, last, after, before };
}

function wrapQueryErrors<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof QueryInputError) throw new RestError(400, 'InvalidInput', err.message);
    throw err;
  }
}

const login: Route = (body, ctx) => {
  const { username, password, source } = asObject(body);
  if (!isLoginSource(source)) {
    throw new RestError(400, 'InvalidInput', `source must be one of ${LOGIN_SOURCES.join(', ')}`);
  }
  const token = ctx.sessions.login(username, password, source);
  // The real status for bad credentials is *unverified* (400 or 401); the simulator answers 401 so
  // a client treats it like any other authentication failure.
  if (!token) throw new RestError(401, 'LoginFailed', 'username or password is incorrect');
  return { status: 200, body: { task_id: null, data: { token } } };
};

const getVms: Route = (body, ctx) => {
  const args = listVmsArgs(body);
  const vms = wrapQueryErrors(() => applyListArgs(ctx.vms(), args, VM_WHERE_SCHEMA));
  return { status: 200, body: vms.map(toApiVm) };
};

const getVmsConnection: Route = (body, ctx) => {
  const { where } = asObject(body);
  const predicate = wrapQueryErrors(() => compileWhere<SimulatedVm>(where, VM_WHERE_SCHEMA));
  return { status: 200, body: { aggregate: { count: ctx.vms().filter(predicate).length } } };
};

// The REST twin of the `vnc` query. Its envelope `{task_id, data}` is *unverified* (taken from the
// other REST answers); an unknown VM is a 404 REST error here.
const getVmVncInfo: Route = (body, ctx) => {
  try {
    return { status: 200, body: { task_id: null, data: resolveVnc(asObject(body), ctx) } };
  } catch (err) {
    if (isVmNotFoundError(err)) throw new RestError(404, 'NotFound', err.message);
    throw err;
  }
};

const graphqlEndpoint: Route = (body, ctx) => executeCloudTowerGraphql(body, ctx);

const ROUTES: Record<string, { route: Route; public?: boolean }> = {
  '/v2/api/login': { route: login, public: true },
  '/v2/api/get-vms': { route: getVms },
  '/v2/api/get-vms-connection': { route: getVmsConnection },
  '/v2/api/get-vm-vnc-info': { route: getVmVncInfo },
  '/api': { route: graphqlEndpoint },
};

function redactedHeaders(req: IncomingMessage): RequestLogEntry['headers'] {
  const headers: RequestLogEntry['headers'] = { ...req.headers };
  if (headers.authorization !== undefined) headers.authorization = '[redacted]';
  return headers;
}

/** Via the global setTimeout (read at call time) so tests can drive latency with fake timers. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The log keeps what a test asserts on (filters, paging, username, source), never a password. */
function redactedBody(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('password' in body)) return body;
  return { ...body, password: '[redacted]' };
}

export async function handleRequest(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://simulator.invalid').pathname;
  const requestId = randomUUID();
  const entry: RequestLogEntry = { method: req.method ?? 'GET', path: pathname, body: undefined, headers: redactedHeaders(req), status: null };
  const answer = (status: number, body: unknown): void => {
    entry.status = status;
    sendJson(res, status, body, { 'x-tower-request-id': requestId });
  };
  const answerError = (err: RestError): void => answer(err.status, restErrorBody(pathname, err));

  let text: string;
  try {
    text = await readBody(req);
  } catch (err) {
    ctx.record(entry);
    if (err instanceof BodyTooLargeError) answerError(new RestError(413, 'PayloadTooLarge', err.message));
    else res.destroy();
    return;
  }
  const parsed = parseBody(text);
  entry.body = parsed.ok ? redactedBody(parsed.value) : parsed.text;
  ctx.record(entry);

  const latency = ctx.latencyMs();
  if (latency > 0) await delay(latency);

  const fault = ctx.faults.take(pathname, false);
  if (fault?.kind === 'hang') return;
  if (fault?.kind === 'garbage') {
    entry.status = 200;
    sendText(res, 200, GARBAGE_BODY, { 'x-tower-request-id': requestId });
    return;
  }
  if (fault?.kind === 'error') {
    answerError(new RestError(fault.status ?? 500, 'InternalServerError', 'injected fault'));
    return;
  }

  try {
    const language = req.headers['content-language'];
    if (language !== undefined && !CONTENT_LANGUAGES.has(language)) {
      throw new RestError(400, 'InvalidContentLanguage', 'content-language must be zh-CN, en-US or *');
    }
    const known = ROUTES[pathname];
    if (!known) throw new RestError(404, 'NotFound', `no such endpoint: ${pathname}`);
    if (req.method !== 'POST') throw new RestError(405, 'MethodNotAllowed', 'only POST is supported');
    // UPSTREAMS.md: the status for a missing/bad token is *unverified*; 401, on GraphQL too.
    if (!known.public && !ctx.sessions.isAuthorized(req.headers.authorization)) {
      throw new RestError(401, 'Unauthorized', 'missing or invalid Authorization token');
    }
    if (!parsed.ok) throw new RestError(400, 'InvalidInput', 'request body is not valid JSON');
    const result = await known.route(parsed.value, ctx);
    answer(result.status, result.body);
  } catch (err) {
    if (err instanceof RestError) answerError(err);
    else answerError(new RestError(500, 'InternalServerError', 'simulator error'));
  }
}
