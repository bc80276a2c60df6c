/**
 * The two noVNC URL forms of seed 000 (SmartX "Get VNC Information"):
 *   direct:  wss://{cluster_ip}/websockify/?uuid={vm_uuid}&token={raw_token}&host={host_ip}
 *   tower:   wss://{tower}/websockify/?token={encodeURIComponent(token)}&uuid={vm_uuid}&host={host_ip}
 * The tower token is base64 (an OpenSSL `Salted__` ciphertext), so it holds `+ / =` and must be encoded.
 */
import type { CloudTowerVnc } from './client.js';

export interface WebsockifyEndpoint {
  scheme: 'ws' | 'wss';
  port: number;
  /** Overrides the host CloudTower reports (cluster) or the API URL's host (tower). */
  host?: string | undefined;
}

/**
 * `host` may be a name, an IPv4 address, an IPv6 literal (bare or bracketed) or any of those with a
 * port (`10.0.0.5:8443`, `[fd00::2]:8443`): some clusters report `cluster_ip` with their websockify
 * port. A port in `host` wins over `endpoint.port`; exactly one colon means host:port, more mean a
 * bare IPv6 literal (which is bracketed).
 */
export function splitHostPort(host: string): { host: string; port: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(host);
  if (bracketed) return { host: `[${bracketed[1]}]`, port: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  const colons = host.split(':').length - 1;
  if (colons === 1) {
    const [name, port] = host.split(':') as [string, string];
    if (/^\d{1,5}$/.test(port)) return { host: name, port: Number(port) };
  }
  return { host: colons > 0 ? `[${host}]` : host, port: null };
}

function authority(rawHost: string, endpoint: WebsockifyEndpoint): string {
  const { host, port: ownPort } = splitHostPort(rawHost);
  const port = ownPort ?? endpoint.port;
  const defaultPort = endpoint.scheme === 'wss' ? 443 : 80;
  return port === defaultPort ? host : `${host}:${port}`;
}

export function directConsoleUrl(vnc: CloudTowerVnc, endpoint: WebsockifyEndpoint): string {
  const host = endpoint.host ?? vnc.cluster_ip;
  return (
    `${endpoint.scheme}://${authority(host, endpoint)}/websockify/` +
    `?uuid=${encodeURIComponent(vnc.vm_uuid)}&token=${encodeURIComponent(vnc.raw_token)}&host=${encodeURIComponent(vnc.host_ip)}`
  );
}

export function towerConsoleUrl(vnc: CloudTowerVnc, towerHost: string, endpoint: WebsockifyEndpoint): string {
  const host = endpoint.host ?? towerHost;
  return (
    `${endpoint.scheme}://${authority(host, endpoint)}/websockify/` +
    `?token=${encodeURIComponent(vnc.token)}&uuid=${encodeURIComponent(vnc.vm_uuid)}&host=${encodeURIComponent(vnc.host_ip)}`
  );
}

/** A log-safe description of a websockify endpoint: scheme, host and port, never the query. */
export function describeEndpoint(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
