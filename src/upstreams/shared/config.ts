/**
 * The parts of a `providers[]` entry every upstream kind shares: a name, an API URL, credentials, TLS
 * options and (for request/response APIs) timeouts. Each kind's own schema (src/upstreams/<kind>/config.ts)
 * spreads `providerBase` and refines with `needsCredentials`.
 */
import { z } from 'zod';

/** An absolute URL with a host and one of `schemes` (without the colon), refused with `message` otherwise. */
export function urlWithScheme(schemes: readonly string[], message: string) {
  return z.string().refine((s) => {
    try {
      const u = new URL(s);
      return schemes.includes(u.protocol.slice(0, -1)) && u.hostname !== '';
    } catch {
      return false;
    }
  }, message);
}

/** An absolute http:// or https:// URL with a host. */
export const httpUrl = urlWithScheme(['http', 'https'], 'must be an absolute http:// or https:// URL');

export const tlsSchema = z
  .object({
    /** Path of a PEM CA file to trust for this upstream (self-signed clusters). */
    ca: z.string().min(1).optional(),
    /** Accept any certificate. Lab use only. @default false */
    insecure: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export const timeoutsSchema = z
  .object({
    /** Milliseconds to establish a TCP/TLS connection. @default 5000 */
    connectMs: z.number().int().positive().default(5_000),
    /** Milliseconds for a whole upstream request, headers and body: a deadline, not an idle timeout; past it UPSTREAM_TIMEOUT. @default 15000 */
    requestMs: z.number().int().positive().default(15_000),
  })
  .strict()
  .prefault({});

const MiB = 1024 * 1024;

/**
 * Why 32 MiB: the largest listing page the gateway asks for is CloudTower get-vms with first=501
 * (MAX_PAGE_SIZE 500 plus one to learn about a next page), and a VM there, with its disks, NICs
 * and labels inlined, is a few KiB (up to ~20 KiB for VMs with many disks): 501 x 20 KiB is about
 * 10 MiB. Abiquo pages hold at most `pageSize` (max 1000) entities of a few KiB each, also about
 * 10 MiB at worst. 32 MiB leaves three times that and still stops a body bomb early.
 */
export const responseLimitsObject = z
  .object({
    /** Bytes of one upstream HTTP response body; larger answers are abandoned as UPSTREAM_RESPONSE_TOO_LARGE. @default 33554432 (32 MiB) */
    maxResponseBytes: z.number().int().positive().default(32 * MiB),
  })
  .strict();

export const responseLimitsSchema = responseLimitsObject.prefault({});

export const providerName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter (it becomes the prefix of VM ids)');

/** What every provider has: a name, an API URL, credentials (a user and password, or a token) and TLS options. */
export const providerBase = {
  name: providerName,
  url: httpUrl,
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** A token used instead of username/password (CloudTower: an API key sent raw in `Authorization`). */
  token: z.string().min(1).optional(),
  tls: tlsSchema,
  limits: responseLimitsSchema,
};

/** `.refine(...needsCredentials)`: a token, or both a username and a password. */
export const needsCredentials = [
  (p: { token?: string | undefined; username?: string | undefined; password?: string | undefined }) =>
    p.token !== undefined || (p.username !== undefined && p.password !== undefined),
  { message: 'needs either `token` or both `username` and `password`' },
] as const;
