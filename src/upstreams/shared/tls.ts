/** TLS settings of an upstream: the CA file is read once, and one shape serves undici and ws alike. */
import { readFileSync } from 'node:fs';
import type { TlsOptions } from '../types.js';

/** The validated `tls` entry of a provider config: `ca` is a path to a PEM file. */
export interface TlsConfig {
  ca?: string | undefined;
  insecure: boolean;
}

/**
 * Read the configured CA at construction, so a missing or unreadable file stops the start with the
 * path in the error instead of failing the first request.
 */
export function loadTls(config: TlsConfig): TlsOptions {
  return {
    ...(config.ca ? { ca: readFileSync(config.ca, 'utf8') } : {}),
    ...(config.insecure ? { insecure: true } : {}),
  };
}

/**
 * Socket options for undici's `connect` and for `ws`/`https` clients. `insecure` wins over `ca`:
 * a lab setup that says "accept anything" must not fail on a stale CA file.
 */
export function tlsSocketOptions(tls: TlsOptions | undefined): { ca?: string; rejectUnauthorized: boolean } {
  if (tls?.insecure) return { rejectUnauthorized: false };
  return { ...(tls?.ca ? { ca: tls.ca } : {}), rejectUnauthorized: true };
}
