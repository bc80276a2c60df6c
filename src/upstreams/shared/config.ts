/**
 * The parts of a `providers[]` entry every upstream kind shares: a name, an API URL, credentials, TLS
 * options and (for request/response APIs) timeouts. Each kind's own schema (src/upstreams/<kind>/config.ts)
 * spreads `providerBase` and refines with `needsCredentials`.
 */
import { z } from 'zod';

/** An absolute http:// or https:// URL with a host. */
export const httpUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http:// or https:// URL');

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
    /** Milliseconds for a whole upstream request (headers and body). @default 15000 */
    requestMs: z.number().int().positive().default(15_000),
  })
  .strict()
  .prefault({});

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
};

/** `.refine(...needsCredentials)`: a token, or both a username and a password. */
export const needsCredentials = [
  (p: { token?: string | undefined; username?: string | undefined; password?: string | undefined }) =>
    p.token !== undefined || (p.username !== undefined && p.password !== undefined),
  { message: 'needs either `token` or both `username` and `password`' },
] as const;
