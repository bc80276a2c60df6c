/**
 * The `auth` section of the config (imported by src/config.ts). Validated at start-up; every
 * message names the key and never echoes a value (the JWT secret may be in it).
 */
import { z } from 'zod';
import { API_KEY_HASH_PATTERN } from './api-keys.js';
import { isLoopbackHost } from './loopback.js';
import { PERMISSIONS } from './principal.js';

export const AUTH_MODES = ['none', 'apiKey', 'jwt', 'apiKey+jwt'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** Asymmetric algorithms accepted from a JWKS by default. Never `none`, never HS* (a public key used as an HMAC secret is the classic algorithm-confusion attack). */
export const JWKS_DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', ...JWKS_DEFAULT_ALGORITHMS] as const;

/** Env var that supplies `auth.jwt.secret`, so the secret need not be in the file. */
export const JWT_SECRET_ENV = 'CONSOLE_GATEWAY_AUTH_JWT_SECRET';

const jwksUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    // Plain http only on loopback: a JWKS fetched in clear text over a network lets anyone on the path mint tokens.
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  } catch {
    return false;
  }
}, 'must be an https:// URL (http:// only for a loopback host)');

const apiKeySchema = z
  .object({
    /** Shown in logs; the caller id becomes `apikey:<name>`. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'must be 1-64 letters, digits, dots, dashes, underscores or @'),
    /** `sha256:<64 hex>` of the key (`console-gateway hash-key`); never the key itself. */
    hash: z.string().regex(API_KEY_HASH_PATTERN, 'must be sha256:<64 lowercase hex digits> (run `console-gateway hash-key`); the key itself never goes in the config'),
    /** Providers this key may use. @default all */
    providers: z.array(z.string().min(1)).optional(),
    /** Gateway permissions of this key (`consoles.admin`: list and terminate every caller's console sessions). @default none */
    permissions: z.array(z.enum(PERMISSIONS, { message: `must be one of ${PERMISSIONS.join(', ')}` })).optional(),
  })
  .strict();

const jwtSchema = z
  .object({
    /** HS256 shared secret; prefer CONSOLE_GATEWAY_AUTH_JWT_SECRET. RFC 7518 §3.2: at least as long as the hash (256 bits). */
    secret: z.string().min(32, 'must be at least 32 characters (256 bits) for HMAC').optional(),
    /** A JWKS (`{"keys":[...]}`) on disk, read at start-up and on reload. */
    jwksFile: z.string().min(1).optional(),
    /** A JWKS URL (the IdP's jwks_uri), fetched on demand and cached. */
    jwksUrl: jwksUrl.optional(),
    /** Required `iss`. */
    issuer: z.string().min(1),
    /** Required `aud` (one of them, if a list). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Claim listing the providers the caller may use (array of names, or a space-separated string; `*` = all). @default providers */
    providersClaim: z.string().min(1).default('providers'),
    /** Claim listing the caller's gateway permissions (array, or a space-separated string; unknown names ignored). @default permissions */
    permissionsClaim: z.string().min(1).default('permissions'),
    /** Leeway for `exp`/`nbf`, seconds. @default 30 */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** Accepted `alg` values. @default HS256 with `secret`; RS*, PS*, ES*, EdDSA with a JWKS */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
  })
  .strict()
  .superRefine((jwt, ctx) => {
    const sources = [jwt.secret, jwt.jwksFile, jwt.jwksUrl].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({ code: 'custom', message: `needs exactly one of \`secret\` (or ${JWT_SECRET_ENV}), \`jwksFile\`, \`jwksUrl\`` });
    }
    const hmac = jwt.secret !== undefined;
    for (const [i, alg] of (jwt.algorithms ?? []).entries()) {
      if (hmac !== alg.startsWith('HS')) {
        ctx.addIssue({ code: 'custom', path: ['algorithms', i], message: hmac ? 'only HS256/HS384/HS512 go with `secret`' : 'HS* algorithms need `secret`, not a JWKS' });
      }
    }
  });

export const authSchema = z
  .object({
    /** Which credentials are accepted. `none`: every caller is anonymous and may use every provider. */
    mode: z.enum(AUTH_MODES, { message: `must be one of ${AUTH_MODES.join(', ')}` }),
    apiKeys: z.array(apiKeySchema).default([]),
    jwt: jwtSchema.optional(),
    /**
     * Caller ids (`apikey:<name>`, `jwt:<sub>`, or `*` for every authenticated caller) that may list
     * and play console recordings. With mode `none` (or no auth section) every caller may. @default []
     */
    recordingViewers: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((auth, ctx) => {
    const keys = auth.mode === 'apiKey' || auth.mode === 'apiKey+jwt';
    const jwt = auth.mode === 'jwt' || auth.mode === 'apiKey+jwt';
    if (keys && auth.apiKeys.length === 0) ctx.addIssue({ code: 'custom', path: ['apiKeys'], message: `mode ${auth.mode} needs at least one key (generate one with \`console-gateway hash-key --generate\`)` });
    if (!keys && auth.apiKeys.length > 0) ctx.addIssue({ code: 'custom', path: ['apiKeys'], message: `keys are configured but mode ${auth.mode} does not accept them; use apiKey or apiKey+jwt` });
    if (jwt && auth.jwt === undefined) ctx.addIssue({ code: 'custom', path: ['jwt'], message: `mode ${auth.mode} needs a jwt section (issuer, audience and a secret or JWKS)` });
    if (!jwt && auth.jwt !== undefined) ctx.addIssue({ code: 'custom', path: ['jwt'], message: `a jwt section is configured but mode ${auth.mode} does not accept tokens; use jwt or apiKey+jwt` });
    const names = new Set<string>();
    const hashes = new Set<string>();
    auth.apiKeys.forEach((k, i) => {
      if (names.has(k.name)) ctx.addIssue({ code: 'custom', path: ['apiKeys', i, 'name'], message: `duplicate key name "${k.name}"` });
      if (hashes.has(k.hash)) ctx.addIssue({ code: 'custom', path: ['apiKeys', i, 'hash'], message: 'the same key is configured twice' });
      names.add(k.name);
      hashes.add(k.hash);
    });
  });

export type AuthConfig = z.infer<typeof authSchema>;
export type JwtConfig = NonNullable<AuthConfig['jwt']>;

/**
 * Cross-section checks, called from the config's own superRefine: keys may name only configured
 * providers, and a gateway reachable from other machines must say how callers authenticate.
 */
export function checkAuthAgainstConfig(
  cfg: { auth?: AuthConfig | undefined; server: { host: string }; providers: readonly { name: string }[] },
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  if (cfg.auth === undefined) {
    if (!isLoopbackHost(cfg.server.host)) {
      addIssue(['auth'], `required when server.host (${cfg.server.host}) is not a loopback address: set auth.mode to apiKey, jwt or apiKey+jwt (or none to accept anonymous callers, not recommended)`);
    }
    return;
  }
  const known = new Set(cfg.providers.map((p) => p.name));
  cfg.auth.apiKeys.forEach((k, i) => {
    (k.providers ?? []).forEach((p, j) => {
      if (!known.has(p)) addIssue(['auth', 'apiKeys', i, 'providers', j], `no provider named "${p}"`);
    });
  });
}
