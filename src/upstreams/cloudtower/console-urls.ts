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

function authority(host: string, endpoint: WebsockifyEndpoint): string {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const defaultPort = endpoint.scheme === 'wss' ? 443 : 80;
  return endpoint.port === defaultPort ? bracketed : `${bracketed}:${endpoint.port}`;
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
