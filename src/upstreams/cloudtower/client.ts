/**
 * CloudTower API client: login once and reuse the token, the `vnc` GraphQL query at /api, and
 * get-vms listings with filters and paging pushed down. One undici Pool per upstream.
 *
 * Facts (../../shared/UPSTREAMS.md): tokens are sent raw in `Authorization` (no `Bearer`), every call
 * carries `content-language`, tokens do not expire while the user exists, so we log in again only
 * when the upstream answers 401.
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { UpstreamAuthFailedError, UpstreamResponseError } from '../../errors.js';
import { timeUpstreamCall } from '../../observability/upstream-calls.js';
import { tokenAuthorization } from '../shared/auth-headers.js';
import { tlsSocketOptions } from '../shared/tls.js';
import { transportError } from '../shared/transport-errors.js';
import type { TlsOptions } from '../types.js';

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
  /** Milliseconds to connect. @default 5000 */
  connectTimeoutMs?: number;
  /** Milliseconds for headers and for body of each request. @default 15000 */
  requestTimeoutMs?: number;
  /** Connections kept per upstream. @default 16 */
  connections?: number;
}

/** The VM shape CloudTower returns from get-vms (only the fields we read). */
export interface CloudTowerVm {
  id: string;
  local_id?: string;
  name: string;
  status?: string;
  cluster?: { id: string; name: string } | null;
  host?: { id: string; name: string; management_ip?: string | null } | null;
  vcpu?: number | null;
  memory?: number | null;
}

export interface CloudTowerVnc {
  vm_uuid: string;
  host_ip: string;
  cluster_ip: string;
  raw_token: string;
  token: string;
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
  private readonly requestTimeoutMs: number;
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
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 16,
      connect: { timeout: opts.connectTimeoutMs ?? 5_000, ...tlsSocketOptions(opts.tls) },
      headersTimeout: this.requestTimeoutMs,
      bodyTimeout: this.requestTimeoutMs,
    });
  }

  async getVms(req: GetVmsRequest): Promise<CloudTowerVm[]> {
    const body = await this.call('/v2/api/get-vms', req);
    if (!Array.isArray(body)) throw new UpstreamResponseError(this.name, 'get-vms did not return a list');
    for (const vm of body) {
      if (typeof vm !== 'object' || vm === null || typeof vm.id !== 'string' || typeof vm.name !== 'string') {
        throw new UpstreamResponseError(this.name, 'get-vms returned a VM without id or name');
      }
    }
    return body as CloudTowerVm[];
  }

  async countVms(where?: Record<string, unknown>): Promise<number> {
    const body = (await this.call('/v2/api/get-vms-connection', where ? { where } : {})) as { aggregate?: { count?: unknown } };
    const count = body?.aggregate?.count;
    if (typeof count !== 'number') throw new UpstreamResponseError(this.name, 'get-vms-connection returned no count');
    return count;
  }

  /**
   * Console credentials for a VM. Returns null when CloudTower answers with GraphQL errors and no data,
   * which is how it reports an unknown VM (shape unverified; the caller double-checks with get-vms).
   */
  async vnc(vmId: string): Promise<CloudTowerVnc | null> {
    const body = (await this.call('/api', {
      operationName: 'vnc',
      variables: { input: { vm: { id: vmId } } },
      query: VNC_QUERY,
    })) as { data?: { vnc?: unknown } | null; errors?: unknown };
    const vnc = body?.data?.vnc;
    if (vnc === null || vnc === undefined) {
      if (Array.isArray(body?.errors)) return null;
      throw new UpstreamResponseError(this.name, 'vnc query returned neither data nor errors');
    }
    const v = vnc as Record<string, unknown>;
    for (const field of ['vm_uuid', 'host_ip', 'cluster_ip', 'raw_token', 'token'] as const) {
      if (typeof v[field] !== 'string' || v[field] === '') throw new UpstreamResponseError(this.name, `vnc answer lacks ${field}`);
    }
    return v as unknown as CloudTowerVnc;
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
    const body = (await this.parse('/v2/api/login', res)) as { data?: { token?: unknown } };
    const token = body?.data?.token;
    if (typeof token !== 'string' || token === '') throw new UpstreamResponseError(this.name, 'login answer carried no token');
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
      let res: Dispatcher.ResponseData;
      try {
        res = await this.pool.request({ method: 'POST', path: this.basePath + path, headers, body: JSON.stringify(payload) });
        return { status: res.statusCode, text: await res.body.text() };
      } catch (err) {
        throw transportError(this.name, err);
      }
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
      // CloudTower's REST error body: {path, status, message, code, props}. Pass on only its code: messages can echo input.
      const code = typeof (body as { code?: unknown })?.code === 'string' ? (body as { code: string }).code : undefined;
      throw new UpstreamResponseError(this.name, `${path} answered HTTP ${res.status}${code ? ` (${code})` : ''}`, {
        status: res.status,
        ...(code ? { upstreamCode: code } : {}),
      });
    }
    return body;
  }
}
