/**
 * CloudTower API client: login once and reuse the token, the `vnc` GraphQL query at /api, and
 * get-vms listings with filters and paging pushed down. One undici Pool per upstream.
 *
 * Facts (../../shared/UPSTREAMS.md): tokens are sent raw in `Authorization` (no `Bearer`), every call
 * carries `content-language`, tokens do not expire while the user exists, so we log in again only
 * when the upstream answers 401.
 */
import { Pool } from 'undici';
import type { z } from 'zod';
import { UpstreamAuthFailedError, UpstreamResponseError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { timeUpstreamCall } from '../../observability/upstream-calls.js';
import { tokenAuthorization } from '../shared/auth-headers.js';
import { boundedRequest } from '../shared/bounded-request.js';
import { tlsSocketOptions } from '../shared/tls.js';
import type { TlsOptions } from '../types.js';
import { errorAnswer, getVmsAnswer, loginAnswer, parseAnswer, vmCountAnswer, vncAnswer, type CloudTowerVm, type CloudTowerVnc } from './answers.js';

export type { CloudTowerVm, CloudTowerVnc } from './answers.js';

export type CloudTowerAuth =
  | { token: string }
  | { username: string; password: string; source: 'LOCAL' | 'LDAP' | 'AUTHN' | 'SSO' };

export interface CloudTowerClientOptions {
  /** Provider name, used in error messages (never the URL's credentials). */
  name: string;
  /** Base URL of CloudTower, e.g. https://tower.example (a path prefix is kept). */
  url: string;
  auth: CloudTowerAuth;
  tls?: TlsOptions;
  /** Milliseconds to connect (config `timeouts.connectMs`). */
  connectTimeoutMs: number;
  /** Deadline of each whole request, headers and body (config `timeouts.requestMs`). */
  requestTimeoutMs: number;
  /** Cap on each response body in bytes (config `limits.maxResponseBytes`). @default 33554432 */
  maxResponseBytes?: number;
  /** Connections kept per upstream. @default 16 */
  connections?: number;
  /** Bound to the provider. */
  logger: Logger;
}

export interface GetVmsRequest {
  where?: Record<string, unknown>;
  orderBy?: string;
  first?: number;
  skip?: number;
}

const VNC_QUERY = 'query vnc($input: VncInput!) { vnc(input: $input) { vm_uuid host_ip cluster_ip raw_token token } }';

export class CloudTowerClient {
  readonly name: string;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly auth: CloudTowerAuth;
  private readonly logger: Logger;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private token: string | null;
  private login: Promise<string> | null = null;
  /** Number of successful logins; exposed for tests of the re-login path. */
  loginCount = 0;

  constructor(opts: CloudTowerClientOptions) {
    this.name = opts.name;
    const url = new URL(opts.url);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.auth = opts.auth;
    this.token = 'token' in opts.auth ? opts.auth.token : null;
    this.logger = opts.logger;
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.maxResponseBytes = opts.maxResponseBytes ?? 32 * 1024 * 1024;
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 16,
      connect: { timeout: opts.connectTimeoutMs, ...tlsSocketOptions(opts.tls) },
      headersTimeout: opts.requestTimeoutMs,
      bodyTimeout: opts.requestTimeoutMs,
    });
  }

  async getVms(req: GetVmsRequest): Promise<CloudTowerVm[]> {
    return this.answer('get-vms', getVmsAnswer, await this.call('/v2/api/get-vms', req));
  }

  async countVms(where?: Record<string, unknown>): Promise<number> {
    const body = await this.call('/v2/api/get-vms-connection', where ? { where } : {});
    return this.answer('get-vms-connection', vmCountAnswer, body).aggregate.count;
  }

  /**
   * Console credentials for a VM. Returns null when CloudTower answers with GraphQL errors and no data,
   * which is how it reports an unknown VM (shape unverified; the caller double-checks with get-vms).
   */
  async vnc(vmId: string): Promise<CloudTowerVnc | null> {
    const body = await this.call('/api', {
      operationName: 'vnc',
      variables: { input: { vm: { id: vmId } } },
      query: VNC_QUERY,
    });
    const answer = this.answer('vnc', vncAnswer, body);
    const vnc = answer.data?.vnc;
    if (vnc) return vnc;
    if (answer.errors) return null;
    throw new UpstreamResponseError(this.name, 'vnc query returned neither data nor errors');
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** POST a JSON body with the session token; log in again once if the token was refused. */
  private async call(path: string, payload: unknown): Promise<unknown> {
    const token = await this.ensureToken();
    const first = await this.post(path, payload, token);
    if (first.status !== 401) return this.parse(path, first);
    if ('token' in this.auth) throw new UpstreamAuthFailedError(this.name, 'the API token was refused');
    // Tokens normally live as long as the user; a 401 means it was revoked (or the tower restarted), so log in once more.
    this.logger.info({ path }, 'CloudTower refused the session token; logging in again');
    if (this.token === token) this.token = null;
    const second = await this.post(path, payload, await this.ensureToken());
    if (second.status === 401) throw new UpstreamAuthFailedError(this.name, 'a fresh login token was refused');
    return this.parse(path, second);
  }

  private async ensureToken(): Promise<string> {
    if (this.token) return this.token;
    // One login at a time: concurrent callers share the same attempt.
    this.login ??= this.doLogin().finally(() => {
      this.login = null;
    });
    return this.login;
  }

  private async doLogin(): Promise<string> {
    const auth = this.auth as Extract<CloudTowerAuth, { username: string }>;
    const res = await this.post('/v2/api/login', { username: auth.username, password: auth.password, source: auth.source }, null);
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      throw new UpstreamAuthFailedError(this.name, `login refused (HTTP ${res.status})`);
    }
    const { token } = this.answer('login', loginAnswer, await this.parse('/v2/api/login', res)).data;
    this.token = token;
    this.loginCount++;
    return token;
  }

  private async post(path: string, payload: unknown, token: string | null): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-language': 'en-US',
      accept: 'application/json',
    };
    if (token) headers.authorization = tokenAuthorization(token, null);
    return timeUpstreamCall(this.name, `POST ${path}`, async () => {
      const res = await boundedRequest(
        this.pool,
        { method: 'POST', path: this.basePath + path, headers, body: JSON.stringify(payload) },
        {
          provider: this.name,
          what: `POST ${path}`,
          bounds: {
            deadlineMs: this.requestTimeoutMs,
            deadlineKey: 'timeouts.requestMs',
            maxBytes: this.maxResponseBytes,
            maxBytesKey: 'limits.maxResponseBytes',
          },
          logger: this.logger,
        },
      );
      return { status: res.status, text: res.text };
    });
  }

  private parse(path: string, res: { status: number; text: string }): unknown {
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      throw new UpstreamResponseError(this.name, `${path} answered HTTP ${res.status} with a body that is not JSON`);
    }
    if (res.status >= 400) {
      const parsed = errorAnswer.safeParse(body);
      const code = parsed.success ? parsed.data.code : undefined;
      throw new UpstreamResponseError(this.name, `${path} answered HTTP ${res.status}${code ? ` (${code})` : ''}`, {
        status: res.status,
        ...(code ? { upstreamCode: code } : {}),
      });
    }
    return body;
  }

  /** Parse an answer's shape; a mismatch is an UpstreamResponseError naming the field (logged without values). */
  private answer<S extends z.ZodType>(what: string, schema: S, body: unknown): z.output<S> {
    try {
      return parseAnswer(this.name, what, schema, body);
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, 'CloudTower answer did not have the expected shape');
      throw err;
    }
  }
}
