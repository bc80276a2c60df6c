/**
 * The one typed configuration, read from a YAML or JSON file with environment overrides and
 * validated at start-up. A wrong value stops the start with a message that names the key.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { JWT_SECRET_ENV, authSchema, checkAuthAgainstConfig } from './auth/config-schema.js';
import { backoffSchema } from './upstreams/shared/backoff.js';

const consoleMode = z.enum(['GATEWAY', 'DIRECT', 'UPSTREAM']);

const tlsSchema = z
  .object({
    /** Path of a PEM CA file to trust for this upstream (self-signed clusters). */
    ca: z.string().min(1).optional(),
    /** Accept any certificate. Lab use only. */
    insecure: z.boolean().default(false),
  })
  .strict()
  .prefault({});

const httpUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http:// or https:// URL');

const websockifyEndpoint = z
  .object({
    /** ws or wss. @default wss */
    scheme: z.enum(['ws', 'wss']).default('wss'),
    /** TCP port of the websockify endpoint. @default 443 */
    port: z.number().int().min(1).max(65535).default(443),
    /** Host to use instead of the one CloudTower reports (cluster) or the API URL's host (tower). */
    host: z.string().min(1).optional(),
  })
  .strict();

const timeoutsSchema = z
  .object({
    /** Milliseconds to establish a TCP/TLS connection. @default 5000 */
    connectMs: z.number().int().positive().default(5_000),
    /** Milliseconds for a whole upstream request (headers and body). @default 15000 */
    requestMs: z.number().int().positive().default(15_000),
  })
  .strict()
  .prefault({});

const providerName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter (it becomes the prefix of VM ids)');

/** What every provider has: a name, an API URL, credentials (a user and password, or a token) and TLS options. */
const providerBase = {
  name: providerName,
  url: httpUrl,
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** A token used instead of username/password (CloudTower: an API key sent raw in `Authorization`). */
  token: z.string().min(1).optional(),
  tls: tlsSchema,
};

const needsCredentials = [
  (p: { token?: string | undefined; username?: string | undefined; password?: string | undefined }) =>
    p.token !== undefined || (p.username !== undefined && p.password !== undefined),
  { message: 'needs either `token` or both `username` and `password`' },
] as const;

const cloudTowerProvider = z
  .object({
    ...providerBase,
    kind: z.literal('cloudtower'),
    /** Login source. @default LOCAL */
    userSource: z.enum(['LOCAL', 'LDAP', 'AUTHN', 'SSO']).default('LOCAL'),
    /** Console mode when a caller names none. @default GATEWAY */
    consoleMode: consoleMode.default('GATEWAY'),
    /** How the gateway (GATEWAY mode) reaches the VM's websockify: straight to the cluster, or through CloudTower. @default cluster */
    gatewayRoute: z.enum(['cluster', 'tower']).default('cluster'),
    websockify: z
      .object({
        cluster: websockifyEndpoint.prefault({}),
        tower: websockifyEndpoint.prefault({}),
      })
      .strict()
      .prefault({}),
    timeouts: timeoutsSchema,
  })
  .strict()
  .refine(...needsCredentials);

const abiquoProvider = z
  .object({
    ...providerBase,
    kind: z.literal('abiquo'),
    /** `Token` or `Bearer` when `token` is used. @default Token */
    tokenScheme: z.enum(['Token', 'Bearer']).default('Token'),
    /** API version in the media types. @default 4.7 */
    apiVersion: z.string().min(1).default('4.7'),
    /** json (API 3.0+) or xml (older APIs). @default json */
    format: z.enum(['json', 'xml']).default('json'),
    /** Enterprises walked at once. @default 8 */
    concurrency: z.number().int().min(1).max(64).default(8),
    /** Collection page size (`limit`). @default 25 */
    pageSize: z.number().int().min(1).max(1000).default(25),
    events: z
      .object({
        enabled: z.boolean().default(true),
        /** Outbound API `action` filter. */
        actions: z.array(z.string().min(1)).min(1).default(['DEPLOY', 'UNDEPLOY', 'DEPLOY_FINISH', 'UNDEPLOY_FINISH']),
        /** Stream URL; defaults to `<origin of url>/m/stream`. */
        url: httpUrl.optional(),
      })
      .strict()
      .prefault({}),
    /** Keep a websockify token file on disk in sync with the VM set. */
    tokenFile: z.object({ path: z.string().min(1) }).strict().optional(),
    consoleMode: z.literal('GATEWAY').default('GATEWAY'),
    timeouts: timeoutsSchema,
    /** Milliseconds between a VM event and the refresh of its enterprise; events inside the window share one refresh. @default 250 */
    refreshDebounceMs: z.number().int().min(0).default(250),
    /** Milliseconds between full walks that catch anything events missed; 0 turns them off. @default 300000 */
    resyncIntervalMs: z.number().int().min(0).default(300_000),
    /** Reconnect backoff of the event stream, milliseconds. @default { initialMs: 1000, maxMs: 60000 } */
    backoff: backoffSchema({ initialMs: 1_000, maxMs: 60_000 }),
  })
  .strict()
  .refine(...needsCredentials);

const drpProvider = z
  .object({
    ...providerBase,
    kind: z.literal('drp'),
    /** Milliseconds to wait for DRP to acknowledge `register`/`deregister`. @default 5000 */
    ackTimeoutMs: z.number().int().positive().default(5_000),
    /** Milliseconds for the WebSocket handshake and the token request. @default 10000 */
    connectTimeoutMs: z.number().int().positive().default(10_000),
    /** Reconnect backoff of the event socket, milliseconds. @default { initialMs: 500, maxMs: 30000 } */
    reconnect: backoffSchema({ initialMs: 500, maxMs: 30_000 }),
    /** Lifetime asked for password-derived tokens, seconds; refreshed at half-life. @default 3600 */
    tokenTtlSeconds: z.number().int().positive().default(3_600),
    /**
     * How often DRP pings, milliseconds. No ping or data for twice this long means the server is dead
     * and the socket is reopened; 0 turns this detection off. @default 54000 (DRP's ping period)
     */
    serverPingIntervalMs: z.number().int().min(0).default(54_000),
  })
  .strict()
  .refine(...needsCredentials);

export const providerSchema = z.discriminatedUnion('kind', [cloudTowerProvider, abiquoProvider, drpProvider]);

export const configSchema = z
  .object({
    server: z
      .object({
        /** Address to listen on. @default 127.0.0.1 */
        host: z.string().min(1).default('127.0.0.1'),
        /** Port to listen on; 0 picks a free one. @default 4000 */
        port: z.number().int().min(0).max(65535).default(4000),
        /** The gateway's URL as browsers see it (behind a load balancer); console URLs are built from it. */
        publicUrl: httpUrl.optional(),
        /** Allow schema introspection. @default true in the embedded default, false otherwise */
        introspection: z.boolean().optional(),
        /** Serve the demo page at `/`. @default true in the embedded default, false otherwise */
        demo: z.boolean().optional(),
        /**
         * Origins allowed to open WebSockets (/graphql, /websockify) besides the gateway's own (Origin
         * host = Host header, or publicUrl): exact `scheme://host[:port]`, `null`, or `*` for any.
         * Requests without Origin (non-browser clients) are always allowed. @default [] (same origin only)
         */
        allowedOrigins: z.array(z.string().refine((o) => o === '*' || o === 'null' || isOrigin(o), 'must be an origin like https://app.example.com (no path), `null` or `*`')).optional(),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    console: z
      .object({
        /** Seconds a console ticket stays valid. @default 30 */
        ticketTtlSeconds: z.number().int().min(1).max(3600).default(30),
        /** Allow a ticket to be redeemed more than once before it expires. @default false */
        reusableTickets: z.boolean().default(false),
        /** Largest WebSocket frame accepted from a client, bytes. @default 1 MiB */
        maxFrameBytes: z.number().int().min(1024).default(1024 * 1024),
        /** Close a console with no traffic either way after this many seconds. @default 600 */
        idleTimeoutSeconds: z.number().int().min(1).default(600),
        /** Interval of WebSocket pings to console clients, seconds. @default 30 */
        pingIntervalSeconds: z.number().int().min(1).default(30),
        /** A websockify token file or directory (`token: host:port` lines) served at /websockify?token=. */
        tokenFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /** Deepest selection nesting. @default 10 */
        maxDepth: z.number().int().min(1).default(10),
        /** Aliases in one operation. @default 15 */
        maxAliases: z.number().int().min(0).default(15),
        /** graphql-armor cost of one operation. @default 5000 */
        maxCost: z.number().int().min(1).default(5000),
        /** Lexical tokens in one document. @default 2000 */
        maxTokens: z.number().int().min(10).default(2000),
        /** Directives in one operation. @default 20 */
        maxDirectives: z.number().int().min(0).default(20),
        /** Largest HTTP request body on /graphql, bytes. @default 102400 */
        maxBodyBytes: z.number().int().min(1024).default(100 * 1024),
        /** Operations running at once on one graphql-ws connection. @default 50 */
        maxSubscriptionsPerConnection: z.number().int().min(1).default(50),
        /** graphql-ws: close a socket that sends no connection_init within this time, milliseconds. @default 3000 */
        wsConnectionInitTimeoutMs: z.number().int().min(100).default(3_000),
        /** graphql-ws: ping idle sockets this often, milliseconds (0 = never). @default 12000 */
        wsKeepAliveMs: z.number().int().min(0).default(12_000),
        /** Console tickets (consoleUrl/console) one caller may mint per minute, refilled continuously. @default 30 */
        ticketsPerMinute: z.number().min(0.1).default(30),
        /** Tickets one caller may mint at once after a quiet spell. @default 10 */
        ticketBurst: z.number().int().min(1).default(10),
        /** Console sessions open at once, all callers together. @default 500 */
        maxConsoles: z.number().int().min(1).default(500),
        /** Console sessions open at once per caller. @default 10 */
        maxConsolesPerCaller: z.number().int().min(1).default(10),
        /** graphql-ws connections open at once, all callers together. @default 10000 */
        maxWsConnections: z.number().int().min(1).default(10_000),
        /** graphql-ws connections open at once per caller. @default 20 */
        maxWsConnectionsPerCaller: z.number().int().min(1).default(20),
      })
      .strict()
      .prefault({}),
    providers: z.array(providerSchema).min(1, 'at least one provider is required'),
    /**
     * Client authentication (README "Authentication"). Absent: anonymous callers, allowed only when
     * server.host is a loopback address (and logged as a warning).
     */
    auth: authSchema.optional(),
    /** What SIGTERM/SIGINT do (README "Shutdown and reload"). */
    shutdown: z
      .object({
        /** Seconds console sessions may go on after a shutdown starts before they are closed with 1001; 0 closes them at once. @default 10 */
        consoleGraceSeconds: z.number().int().min(0).max(3600).default(10),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.providers.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `duplicate provider name "${p.name}"` });
      seen.add(p.name);
    });
    checkAuthAgainstConfig(cfg, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
  });

export type GatewayConfig = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type CloudTowerProviderConfig = Extract<ProviderConfig, { kind: 'cloudtower' }>;
export type AbiquoProviderConfig = Extract<ProviderConfig, { kind: 'abiquo' }>;
export type DrpProviderConfig = Extract<ProviderConfig, { kind: 'drp' }>;

/** Input accepted by validateConfig (before defaults are applied). */
export type GatewayConfigInput = z.input<typeof configSchema>;

/** Validate a raw object; throws ConfigError naming each bad key (never echoing its value: it may be a secret). */
export function validateConfig(raw: unknown): GatewayConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `${key}: ${issue.message}`;
  });
  throw new ConfigError(issues);
}

/**
 * Environment overrides, applied on top of the file. Secrets can live only in the environment:
 * CONSOLE_GATEWAY_PROVIDER_<NAME>_PASSWORD / _TOKEN / _USERNAME (NAME upper-cased, dashes as underscores).
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(raw);
  const server = { ...((out.server as Record<string, unknown> | undefined) ?? {}) };
  if (env.CONSOLE_GATEWAY_HOST) server.host = env.CONSOLE_GATEWAY_HOST;
  if (env.CONSOLE_GATEWAY_PORT) server.port = toNumber(env.CONSOLE_GATEWAY_PORT, 'CONSOLE_GATEWAY_PORT');
  if (env.CONSOLE_GATEWAY_PUBLIC_URL) server.publicUrl = env.CONSOLE_GATEWAY_PUBLIC_URL;
  if (Object.keys(server).length > 0) out.server = server;
  if (env.CONSOLE_GATEWAY_LOG_LEVEL) out.log = { ...((out.log as object | undefined) ?? {}), level: env.CONSOLE_GATEWAY_LOG_LEVEL };
  if (env.CONSOLE_GATEWAY_SHUTDOWN_CONSOLE_GRACE_SECONDS) {
    const consoleGraceSeconds = toNumber(env.CONSOLE_GATEWAY_SHUTDOWN_CONSOLE_GRACE_SECONDS, 'CONSOLE_GATEWAY_SHUTDOWN_CONSOLE_GRACE_SECONDS');
    out.shutdown = { ...((out.shutdown as object | undefined) ?? {}), consoleGraceSeconds };
  }
  const auth = out.auth as Record<string, unknown> | undefined;
  if (env[JWT_SECRET_ENV] && typeof auth?.jwt === 'object' && auth.jwt !== null) {
    out.auth = { ...auth, jwt: { ...(auth.jwt as object), secret: env[JWT_SECRET_ENV] } };
  }
  if (Array.isArray(out.providers)) {
    out.providers = out.providers.map((p: unknown) => {
      if (typeof p !== 'object' || p === null) return p;
      const provider = { ...(p as Record<string, unknown>) };
      const prefix = `CONSOLE_GATEWAY_PROVIDER_${String(provider.name ?? '').toUpperCase().replace(/-/g, '_')}_`;
      for (const field of ['username', 'password', 'token', 'url'] as const) {
        const value = env[prefix + field.toUpperCase()];
        if (value) provider[field] = value;
      }
      return provider;
    });
  }
  return out;
}

/** `scheme://host[:port]` and nothing else: an Origin header never carries a path, query or credentials. */
function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && /^[a-z]+:\/\/[^/?#@]+\/?$/i.test(value);
  } catch {
    return false;
  }
}

function toNumber(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ConfigError([`${name}: must be an integer, got "${value}"`]);
  return n;
}

/** Read a config file (YAML or JSON; JSON is valid YAML), apply the environment and validate. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--config: cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`--config: "${path}" is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([`(root): "${path}" must contain a mapping with at least a \`providers\` list`]);
  }
  return validateConfig(applyEnvOverrides(raw as Record<string, unknown>, env));
}
