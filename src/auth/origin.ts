/**
 * The `Origin` allowlist for WebSocket upgrades. Browsers attach cookies and client certificates to
 * a cross-site WebSocket and do not apply CORS to it (cross-site WebSocket hijacking), so a page on
 * another site must not be able to open /graphql or /websockify in a user's name.
 *
 * Allowed: no `Origin` at all (non-browser clients; every browser sends one on a WebSocket), the
 * same origin (`http://` + the Host header: scheme, host and port all equal; the gateway itself
 * speaks plain HTTP, so behind a TLS proxy its https origin comes from `server.publicUrl`), the
 * origin of `server.publicUrl`, and every origin listed in `server.allowedOrigins` (`*` allows all).
 * The Host header is checked first (src/auth/host.ts), so "same origin" is an origin the gateway serves.
 *
 * Applied to every WebSocket upgrade and to browser requests (those with an Origin) on HTTP /graphql.
 */
import type { IncomingMessage } from 'node:http';

export interface OriginPolicyOptions {
  /** Exact origins (`https://app.example.com`), `null` for opaque origins, or `*`. @default [] (same origin only) */
  allowedOrigins?: readonly string[] | undefined;
  /** The gateway's public URL; its origin is always allowed. @default none */
  publicUrl?: string | undefined;
}

export class OriginPolicy {
  readonly #any: boolean;
  readonly #allowed: ReadonlySet<string>;

  constructor(options: OriginPolicyOptions = {}) {
    const list = options.allowedOrigins ?? [];
    this.#any = list.includes('*');
    const allowed = new Set<string>();
    for (const o of list) if (o !== '*') allowed.add(o === 'null' ? 'null' : normalizeOrigin(o) ?? o);
    if (options.publicUrl) {
      const origin = normalizeOrigin(options.publicUrl);
      if (origin) allowed.add(origin);
    }
    this.#allowed = allowed;
  }

  allows(req: Pick<IncomingMessage, 'headers'>): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.#any) return true;
    if (origin === 'null') return this.#allowed.has('null');
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (this.#allowed.has(url.origin)) return true;
    const host = req.headers.host;
    return host !== undefined && sameHost(url, host);
  }
}

/** `scheme://host[:port]` of a URL, lowercased with the default port dropped; null when it is not a URL. */
export function normalizeOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    return url.origin === 'null' ? null : url.origin;
  } catch {
    return null;
  }
}

function sameHost(origin: URL, hostHeader: string): boolean {
  // The gateway's own scheme is http: an https page is not its origin (unless publicUrl says so).
  if (origin.protocol !== 'http:') return false;
  // url.host omits the scheme's default port; the Host header may carry it.
  let host = hostHeader.trim().toLowerCase();
  if (host.endsWith(':80')) host = host.slice(0, -':80'.length);
  return host === origin.host;
}
