/**
 * The `Host` allowlist: the DNS-rebinding defence development and notebook servers use. A page on
 * `http://attacker.example` whose name the attacker re-points at 127.0.0.1 (or at the gateway's
 * address) reaches the gateway as same-origin, with `Host: attacker.example` and an Origin to
 * match: with auth off it could list VMs and open consoles. The gateway answers only Host values it
 * serves:
 *
 * - the host (and port) of `server.publicUrl`;
 * - every entry of `server.allowedHosts` (`name` matches any port, `name:port` that port only;
 *   `*` turns the check off);
 * - `localhost` on the port the gateway is bound to (whatever address it is bound to: the name
 *   always means this machine);
 * - any IP literal, loopback or not (`127.0.0.1:4000`, `[::1]:4000`, `10.0.0.5:4000`): rebinding needs a
 *   name the attacker owns, and a browser that talks to an IP literal has that IP as its origin, so
 *   the Origin check covers it. This keeps kubelet probes, Prometheus scrapes and clients that dial
 *   the address working.
 *
 * A request without Host (HTTP/1.0) is refused: the gateway cannot tell what it was meant for.
 */
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export interface HostPolicyOptions {
  /** Extra names (`gw.example.com`, `gw.example.com:8443`) or `*` for any. @default [] */
  allowedHosts?: readonly string[] | undefined;
  /** The gateway's public URL; its host (and port) is always allowed. @default none */
  publicUrl?: string | undefined;
}

interface HostName {
  /** Lowercase host, IPv6 in brackets. */
  name: string;
  /** Explicit port, or null for any. */
  port: number | null;
}

export class HostPolicy {
  readonly #any: boolean;
  readonly #allowed: readonly HostName[];

  constructor(options: HostPolicyOptions = {}) {
    const list = options.allowedHosts ?? [];
    this.#any = list.includes('*');
    const allowed: HostName[] = [];
    for (const entry of list) {
      if (entry === '*') continue;
      const parsed = parseHost(entry);
      if (parsed) allowed.push(parsed);
    }
    if (options.publicUrl) {
      try {
        const url = new URL(options.publicUrl);
        const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
        allowed.push({ name: url.hostname.toLowerCase(), port });
      } catch {
        // Validated by the config schema; an unparsable URL adds nothing.
      }
    }
    this.#allowed = allowed;
  }

  /** True when `Host` names the gateway; `boundPort` is the port it listens on (for the loopback names). */
  allows(req: Pick<IncomingMessage, 'headers'>, boundPort: number): boolean {
    if (this.#any) return true;
    const header = req.headers.host;
    if (header === undefined) return false;
    const host = parseHost(header);
    if (!host) return false;
    // No port in Host means the scheme's default; the gateway speaks plain HTTP itself (a TLS proxy in front sends its own).
    const port = host.port ?? 80;
    if (isIP(host.name.replace(/^\[|\]$/g, '')) !== 0) return true;
    if (host.name === 'localhost' && port === boundPort) return true;
    return this.#allowed.some((a) => a.name === host.name && (a.port === null || a.port === port || (host.port === null && (a.port === 80 || a.port === 443))));
  }
}

/** `name[:port]` as sent in a Host header or written in `server.allowedHosts`; null when it is not one. */
export function parseHost(value: string): HostName | null {
  const v = value.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) return null;
  // A trailing dot names the same host (`example.com.`).
  return { name: m[1]!.replace(/\.$/, ''), port };
}
