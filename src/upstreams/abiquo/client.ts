/**
 * Abiquo REST client: the walk of seed 001 (enterprises -> each one's `virtualmachines` link -> VMs),
 * with versioned media types in JSON (API 3.0+) or XML (older APIs), `startwith`/`limit` paging that
 * follows `rel:"next"`, and bounded concurrency across enterprises. One undici Pool per upstream.
 *
 * Links are followed only when they stay on the configured API's origin: an upstream (or whatever sits
 * in front of it) must not be able to steer the gateway's credentials to another host.
 */
import { Pool } from 'undici';
import {
  GatewayError,
  UpstreamAuthFailedError,
  UpstreamResponseError,
  isGatewayError,
} from '../../errors.js';
import { timeUpstreamCall } from '../../observability/upstream-calls.js';
import type { AbiquoProviderConfig } from '../../config.js';
import { basicAuthorization, tokenAuthorization } from '../shared/auth-headers.js';
import type { Logger } from '../../logger.js';
import { boundedRequest, type RequestBounds } from '../shared/bounded-request.js';
import { tlsSocketOptions } from '../shared/tls.js';
import type { TlsOptions } from '../types.js';
import { createLimiter, type Limiter } from './limiter.js';
import { formatMediaType, type AbiquoFormat } from './media-types.js';
import {
  DecodeError,
  decodeEnterprise,
  decodeErrorBody,
  decodePage,
  decodeVm,
  type AbiquoEnterprise,
  type AbiquoPage,
  type AbiquoVm,
} from './model.js';
import { parseXmlRoot } from './xml.js';

/** The config fields the client reads; `url` is the API root (a bare origin means `<origin>/api`). */
export type AbiquoClientConfig = Pick<
  AbiquoProviderConfig,
  'name' | 'url' | 'username' | 'password' | 'token' | 'tokenScheme' | 'apiVersion' | 'format' | 'pageSize' | 'concurrency' | 'timeouts' | 'limits'
>;

export interface AbiquoEnterpriseVm {
  enterpriseId: number;
  vm: AbiquoVm;
}

export interface AbiquoWalkError {
  enterpriseId: number;
  error: GatewayError;
}

export interface AbiquoWalkResult {
  /** Every enterprise listed, including those whose VMs could not be read. */
  enterprises: AbiquoEnterprise[];
  /** VMs of the enterprises that were read completely. */
  vms: AbiquoEnterpriseVm[];
  /** One entry per enterprise whose VMs could not be read. */
  errors: AbiquoWalkError[];
}

/** `Authorization` header value for the configured credentials (a token wins). Contains a secret: never log it. */
export function abiquoAuthorization(config: Pick<AbiquoProviderConfig, 'name' | 'username' | 'password' | 'token' | 'tokenScheme'>): string {
  if (config.token !== undefined) return tokenAuthorization(config.token, config.tokenScheme);
  if (config.username === undefined || config.password === undefined) {
    throw new TypeError(`abiquo provider "${config.name}" needs a token or a username and password`);
  }
  return basicAuthorization(config.username, config.password);
}

/** The API root URL (no trailing slash) for a configured URL; a bare origin gets `/api`. */
export function apiRootOf(url: string): URL {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path === '' ? '/api' : path;
  return u;
}

// A runaway `next` chain (a buggy or hostile upstream) stops here instead of looping forever.
const MAX_PAGES = 10_000;

interface CollectionSpec<T> {
  /** Media type entity, e.g. `virtualmachines`. */
  entity: string;
  /** XML root and item element names. */
  rootTag: string;
  itemTag: string;
  decode: (v: unknown) => T;
  /** What is being read, for error messages (no URLs: they may be long and are the upstream's business). */
  what: string;
}

export class AbiquoClient {
  readonly name: string;
  readonly apiRoot: URL;
  readonly format: AbiquoFormat;
  readonly #pool: Pool;
  readonly #authorization: string;
  readonly #version: string;
  readonly #pageSize: number;
  readonly #limit: Limiter;
  readonly #bounds: RequestBounds;
  readonly #logger: Pick<Logger, 'warn'> | undefined;

  /** `logger` receives a warning each time an answer goes past a bound. */
  constructor(config: AbiquoClientConfig, tls: TlsOptions, logger?: Pick<Logger, 'warn'>) {
    this.name = config.name;
    this.apiRoot = apiRootOf(config.url);
    this.format = config.format;
    this.#authorization = abiquoAuthorization(config);
    this.#version = config.apiVersion;
    this.#pageSize = config.pageSize;
    this.#logger = logger;
    this.#bounds = {
      deadlineMs: config.timeouts.requestMs,
      deadlineKey: 'timeouts.requestMs',
      maxBytes: config.limits.maxResponseBytes,
      maxBytesKey: 'limits.maxResponseBytes',
    };
    // Enterprises whose VMs are fetched at once (walks and single refreshes together).
    this.#limit = createLimiter(config.concurrency);
    this.#pool = new Pool(this.apiRoot.origin, {
      // One spare connection for the enterprise list and readiness probes beside a full walk.
      connections: config.concurrency + 1,
      connect: { timeout: config.timeouts.connectMs, ...tlsSocketOptions(tls) },
      // Each request also has a whole-request deadline (boundedRequest); these catch a silent peer.
      headersTimeout: config.timeouts.requestMs,
      bodyTimeout: config.timeouts.requestMs,
    });
  }

  /** All enterprises, every page; `onPage` sees each page's enterprises as soon as it arrives. */
  async listEnterprises(onPage?: (enterprises: AbiquoEnterprise[]) => void): Promise<AbiquoEnterprise[]> {
    return this.#collect(
      this.#url('admin/enterprises'),
      {
        entity: 'enterprises',
        rootTag: 'enterprises',
        itemTag: 'enterprise',
        decode: decodeEnterprise,
        what: 'the enterprise list',
      },
      onPage,
    );
  }

  /**
   * All VMs of one enterprise, read through its `virtualmachines` link (or the documented
   * `/admin/enterprises/{id}/action/virtualmachines` when the entity carries none). Each request
   * takes a slot of the client's concurrency limit.
   */
  async listEnterpriseVms(enterprise: AbiquoEnterprise | number): Promise<AbiquoVm[]> {
    const id = typeof enterprise === 'number' ? enterprise : enterprise.id;
    const link = typeof enterprise === 'number' ? undefined : enterprise.links.find((l) => l.rel === 'virtualmachines');
    const spec: CollectionSpec<AbiquoVm> = {
      entity: 'virtualmachines',
      rootTag: 'virtualMachines',
      itemTag: 'virtualMachine',
      decode: decodeVm,
      what: `the virtual machines of enterprise ${id}`,
    };
    const url = link ? this.#sameOrigin(link.href, spec.what) : this.#url(`admin/enterprises/${id}/action/virtualmachines`);
    return this.#collect(url, spec);
  }

  /**
   * The whole walk. Fails only when the enterprise list cannot be read; an enterprise whose VMs
   * cannot be read is reported in `errors` and the others' VMs are still returned.
   */
  async walk(): Promise<AbiquoWalkResult> {
    const vms: AbiquoEnterpriseVm[] = [];
    const errors: AbiquoWalkError[] = [];
    const walks: Promise<void>[] = [];
    // Enterprises are walked as their page of the list arrives, not after the whole list: the list's
    // own paging would otherwise be a serial head that no concurrency can hide.
    const enterprises = await this.listEnterprises((page) => {
      for (const enterprise of page) {
        walks.push(
          this.listEnterpriseVms(enterprise).then(
            (list) => {
              for (const vm of list) vms.push({ enterpriseId: enterprise.id, vm });
            },
            (err: unknown) => {
              errors.push({ enterpriseId: enterprise.id, error: this.#asGatewayError(err) });
            },
          ),
        );
      }
    });
    await Promise.all(walks);
    errors.sort((a, b) => a.enterpriseId - b.enterpriseId);
    return { enterprises, vms, errors };
  }

  /** One small request to prove the API answers and accepts our credentials. */
  async ping(): Promise<void> {
    const url = this.#url('admin/enterprises');
    url.searchParams.set('startwith', '0');
    url.searchParams.set('limit', '1');
    await this.#getPage(url, {
      entity: 'enterprises',
      rootTag: 'enterprises',
      itemTag: 'enterprise',
      decode: decodeEnterprise,
      what: 'the enterprise list',
    });
  }

  /** Close the pool; requests still in flight fail (callers shutting down do not wait for a slow upstream). */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }

  #url(relative: string): URL {
    return new URL(`${this.apiRoot.pathname}/${relative}`, this.apiRoot.origin);
  }

  #sameOrigin(href: string, what: string): URL {
    let url: URL;
    try {
      url = new URL(href, this.apiRoot);
    } catch {
      throw new UpstreamResponseError(this.name, `a link in ${what} is not a URL`);
    }
    if (url.origin !== this.apiRoot.origin) {
      throw new UpstreamResponseError(this.name, `a link in ${what} points outside the configured API origin; not followed`);
    }
    return url;
  }

  async #collect<T>(first: URL, spec: CollectionSpec<T>, onPage?: (items: T[]) => void): Promise<T[]> {
    const out: T[] = [];
    let url: URL | null = first;
    url.searchParams.set('startwith', url.searchParams.get('startwith') ?? '0');
    url.searchParams.set('limit', url.searchParams.get('limit') ?? String(this.#pageSize));
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url.href) || seen.size >= MAX_PAGES) {
        throw new UpstreamResponseError(this.name, `paging of ${spec.what} does not end`);
      }
      seen.add(url.href);
      const page: AbiquoPage<T> = await this.#getPage(url, spec);
      out.push(...page.items);
      onPage?.(page.items);
      const next = page.links.find((l) => l.rel === 'next');
      // An empty page with a `next` link would never end; stop at the first empty page.
      url = next && page.items.length > 0 ? this.#sameOrigin(next.href, spec.what) : null;
    }
    return out;
  }

  async #getPage<T>(url: URL, spec: CollectionSpec<T>): Promise<AbiquoPage<T>> {
    const { status, contentType, text } = await this.#get(url, spec.entity);
    if (status === 401 || status === 403) throw new UpstreamAuthFailedError(this.name, `HTTP ${status} reading ${spec.what}`);
    if (status >= 300) {
      const err = this.#errorBody(text, contentType);
      throw new UpstreamResponseError(this.name, `${spec.what}: HTTP ${status}${err ? ` (${err.code})` : ''}`, {
        status,
        ...(err ? { upstreamCode: err.code } : {}),
      });
    }
    try {
      const tree = this.#parseBody(text, contentType, spec.rootTag);
      return decodePage(tree, spec.itemTag, spec.decode);
    } catch (err) {
      if (err instanceof DecodeError) throw new UpstreamResponseError(this.name, `${spec.what}: ${err.message}`, { status });
      throw err;
    }
  }

  #parseBody(text: string, contentType: string, rootTag: string): unknown {
    if (this.format === 'json') {
      if (!/json/i.test(contentType)) throw new DecodeError('a body that is not JSON');
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new DecodeError('a body that is not valid JSON');
      }
    }
    if (!/xml/i.test(contentType)) throw new DecodeError('a body that is not XML');
    return parseXmlRoot(text, rootTag);
  }

  #errorBody(text: string, contentType: string): { code: string; message: string } | null {
    try {
      if (/json/i.test(contentType)) return decodeErrorBody(JSON.parse(text));
      if (/xml/i.test(contentType)) return decodeErrorBody(parseXmlRoot(text, 'errors'));
    } catch {
      // An unreadable error body: the status alone is reported.
    }
    return null;
  }

  async #get(url: URL, entity: string): Promise<{ status: number; contentType: string; text: string }> {
    // The concurrency limit counts requests, so an enterprise waiting between two of its pages does
    // not hold a slot. Labelled by entity, never by URL: URLs carry ids and paging, labels must stay few.
    return this.#limit(() => timeUpstreamCall(this.name, `GET ${entity}`, () => this.#getUntimed(url, entity)));
  }

  async #getUntimed(url: URL, entity: string): Promise<{ status: number; contentType: string; text: string }> {
    const res = await boundedRequest(
      this.#pool,
      {
        method: 'GET',
        path: url.pathname + url.search,
        headers: {
          accept: formatMediaType(entity, this.format, this.#version),
          authorization: this.#authorization,
        },
      },
      { provider: this.name, what: `GET ${entity}`, bounds: this.#bounds, logger: this.#logger },
    );
    const ct = res.headers['content-type'];
    return { status: res.status, contentType: (Array.isArray(ct) ? ct[0] : ct) ?? '', text: res.text };
  }

  #asGatewayError(err: unknown): GatewayError {
    if (isGatewayError(err)) return err;
    return new UpstreamResponseError(this.name, 'unexpected failure while reading virtual machines', {}, { cause: err });
  }
}
