/**
 * The one typed configuration, read from a YAML or JSON file with environment overrides and
 * validated at start-up. A wrong value stops the start with a message that names the key.
 * Each upstream kind owns its `providers[]` entry schema (src/upstreams/<kind>/config.ts); the
 * `providers` union is assembled here from the list of kinds (src/upstreams/kinds.ts).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { authSchema, checkAuthAgainstConfig } from './auth/config-schema.js';
import { isLoopbackHost } from './auth/loopback.js';
import { envKeysOf, overlayEnv, type EnvKey, type EnvSource } from './config-env.js';
import type { AnyUpstreamKind } from './upstreams/descriptor.js';
import { upstreamKinds } from './upstreams/kinds.js';
import { redisSchema } from './fleet/config.js';
import { eventsSchema } from './events/config.js';
import { checkRecordingAgainstConsole, recordingSchema } from './recording/config.js';
import { httpUrl } from './upstreams/shared/config.js';
import { parseHost } from './auth/host.js';

/**
 * The `providers[]` entry: one of the kinds' own schemas, chosen by `kind`. An unknown `kind` is
 * refused with the list of known ones. Throws (a programming error, not a config error) when two
 * kinds share a name or a name would not make a GraphQL enum value.
 */
export function providerSchemaFor<const Kinds extends readonly AnyUpstreamKind[]>(
  kinds: Kinds,
): z.ZodType<z.output<Kinds[number]['configSchema']>, z.input<Kinds[number]['configSchema']>> {
  const names = kinds.map((k) => k.kind);
  for (const name of names) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`upstream kind "${name}" must be lowercase letters, digits and "_", starting with a letter`);
  }
  if (new Set(names).size !== names.length) throw new Error(`upstream kinds must be unique: ${names.join(', ')}`);
  const known = `must be one of ${names.map((n) => `\`${n}\``).join(', ')}`;
  // The kinds' schemas are strict objects with a `kind` literal; the descriptor type cannot say "object", hence the cast.
  const options = kinds.map((k) => k.configSchema) as unknown as [z.ZodObject, ...z.ZodObject[]];
  return z.discriminatedUnion('kind', options, {
    error: (issue) => (issue.code === 'invalid_union' && issue.path?.at(-1) === 'kind' ? known : undefined),
  }) as unknown as z.ZodType<z.output<Kinds[number]['configSchema']>, z.input<Kinds[number]['configSchema']>>;
}

export const providerSchema = providerSchemaFor(upstreamKinds);

/** Every section but `providers`, whose schema depends on the kinds (configSchemaFor). */
const sections = z
  .object({
    server: z
      .object({
        /** Address to listen on. @default 127.0.0.1 */
        host: z.string().min(1).default('127.0.0.1'),
        /** Port to listen on; 0 picks a free one. @default 4000 */
        port: z.number().int().min(0).max(65535).default(4000),
        /** Seconds between the background checks of every upstream behind the `upstream_up` metric (never a check per probe or scrape). @default 30 */
        upstreamCheckIntervalSeconds: z.number().int().min(1).max(3_600).default(30),
        /** The gateway's URL as browsers see it (behind a load balancer); console URLs are built from it. */
        publicUrl: httpUrl.optional(),
        /** Allow schema introspection. @default true in the embedded default, false otherwise */
        introspection: z.boolean().optional(),
        /** Serve the demo page at `/`. @default true in the embedded default, false otherwise */
        demo: z.boolean().optional(),
        /**
         * Origins allowed to open WebSockets (/graphql, /websockify) and to send browser requests to HTTP /graphql,
         * besides the gateway's own (`http://` + Host header, or publicUrl's): exact `scheme://host[:port]`, `null`,
         * or `*` for any. Requests without Origin (non-browser clients) are always allowed. Others get 403
         * ORIGIN_NOT_ALLOWED. @default [] (same origin only)
         */
        allowedOrigins: z.array(z.string().refine((o) => o === '*' || o === 'null' || isOrigin(o), 'must be an origin like https://app.example.com (no path), `null` or `*`')).optional(),
        /**
         * Host header values the gateway answers besides the publicUrl host, `localhost` on the bound port and IP
         * literals (the DNS-rebinding defence, src/auth/host.ts): `name` (any port) or `name:port`, or `*` to turn the
         * check off. Others get 421 HOST_NOT_ALLOWED (/healthz and /readyz excepted). @default [] (publicUrl and loopback only)
         */
        allowedHosts: z.array(z.string().refine((h) => h === '*' || parseHost(h) !== null, 'must be a host name like gw.example.com or gw.example.com:8443 (no scheme, no path), or `*`')).optional(),
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
        /**
         * Close a console this many seconds after its upgrade, whatever it is doing, with 4014. 0: no
         * limit. Checked on each ping tick, so up to one ping interval late. @default 0
         */
        maxLifetimeSeconds: z.number().int().min(0).default(0),
        /**
         * Close a console with no keyboard, mouse or clipboard message from the browser for this many
         * seconds, with 4015 (screen updates do not count). 0: off, and the browser's stream is not
         * parsed. Checked on each ping tick. @default 0
         */
        inputIdleTimeoutSeconds: z.number().int().min(0).default(0),
        /** Ended console sessions kept for `consoleSessions` (newest first; per replica). @default 200 */
        endedSessionsKept: z.number().int().min(0).max(100_000).default(200),
        /** Interval of WebSocket pings to console clients, seconds. @default 30 */
        pingIntervalSeconds: z.number().int().min(1).default(30),
        /**
         * A console must be piping this many seconds after its upgrade (target resolved, upstream
         * connected, both RFB handshakes done), else it closes with 4009; bytes flowing do not extend
         * it. Checked on each ping tick, so up to one ping interval late. @default 30
         */
        handshakeTimeoutSeconds: z.number().int().min(1).max(3600).default(30),
        /**
         * Bytes one console may hold for a side that cannot take them yet (before piping starts, or
         * read from a paused browser to check it is alive); past it the console closes with 4010. @default 262144 (256 KiB)
         */
        maxHeldBytes: z.number().int().min(1024).default(256 * 1024),
        /** Queue towards either side of a console at which the other side stops being read, bytes. @default 1048576 (1 MiB) */
        highWaterMarkBytes: z.number().int().min(16 * 1024).default(1024 * 1024),
        /** Give up connecting to a console's upstream (TCP, TLS and WebSocket handshake) after this many seconds; closes with 4001. @default 10 */
        upstreamConnectTimeoutSeconds: z.number().int().min(1).max(300).default(10),
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
        /**
         * graphql-armor cost of one operation. A list field's cost is multiplied by its `first`, so the
         * default admits one `vms(first: 500)` page selecting every Vm field through both `edges` and `nodes`.
         * @default 120000
         */
        maxCost: z.number().int().min(1).default(120_000),
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
    /**
     * Client authentication (README "Authentication"). Absent: anonymous callers, allowed only when
     * server.host is a loopback address (and logged as a warning).
     */
    auth: authSchema.optional(),
    /** The event stream's memory for resuming subscribers (README "Events"). */
    events: eventsSchema,
    /** Console recording (README "Recording"). */
    recording: recordingSchema,
    /** Shared state of a fleet of replicas (README "Running several replicas"). Absent: everything stays in this process. */
    redis: redisSchema.optional(),
    /** What SIGTERM/SIGINT do (README "Shutdown and reload"). */
    shutdown: z
      .object({
        /** Seconds console sessions may go on after a shutdown starts before they are closed with 1001; 0 closes them at once. @default 10 */
        consoleGraceSeconds: z.number().int().min(0).max(3600).default(10),
      })
      .strict()
      .prefault({}),
    /** Re-reading the --config file (README "Operations"): on SIGHUP, and on a change to the file. */
    reload: z
      .object({
        /** Re-read the file when it changes (a Kubernetes ConfigMap update), not only on SIGHUP. @default true */
        watchFile: z.boolean().default(true),
        /** Read the file this long after the last change seen, milliseconds (writers and ConfigMap swaps change it in steps). @default 500 */
        debounceMs: z.number().int().min(0).max(60_000).default(500),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The whole config schema for a list of upstream kinds (tests add kinds of their own). */
export function configSchemaFor<const Kinds extends readonly AnyUpstreamKind[]>(kinds: Kinds) {
  return sections
    .extend({ providers: z.array(providerSchemaFor(kinds)).min(1, 'at least one provider is required') })
    .superRefine((cfg, ctx) => {
      const seen = new Set<string>();
      cfg.providers.forEach((p, i) => {
        if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `duplicate provider name "${p.name}"` });
        seen.add(p.name);
      });
      checkAuthAgainstConfig(cfg, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
      checkRecordingAgainstConsole(cfg, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
      // Off loopback the bound address (0.0.0.0 in the image) is not what browsers reach: console URLs would read ws://0.0.0.0:4000/...
      if (!isLoopbackHost(cfg.server.host) && cfg.server.publicUrl === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['server', 'publicUrl'],
          message: `required when server.host (${cfg.server.host}) is not a loopback address: console URLs are built from it; set it to the URL browsers use (CONSOLE_GATEWAY_SERVER_PUBLIC_URL=https://gw.example.com)`,
        });
      }
    });
}

/** The config schema of the built-in upstream kinds. */
export const configSchema = configSchemaFor(upstreamKinds);

export type GatewayConfig = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type { CloudTowerProviderConfig } from './upstreams/cloudtower/config.js';
export type { AbiquoProviderConfig } from './upstreams/abiquo/config.js';
export type { DrpProviderConfig } from './upstreams/drp/config.js';

/** Input accepted by validateConfig (before defaults are applied). */
export type GatewayConfigInput = z.input<typeof configSchema>;

/**
 * Validate a raw object; throws ConfigError naming each bad key (never echoing its value: it may be a secret).
 * `kinds` replaces the built-in upstream kinds (a test adds its own). Entries of an extra kind are
 * validated by that kind's schema, but typed as ProviderConfig: only the registry reads them, through
 * their descriptor.
 * @default kinds: upstreamKinds (src/upstreams/kinds.ts)
 */
export function validateConfig(raw: unknown, kinds: readonly AnyUpstreamKind[] = upstreamKinds, sources: readonly EnvSource[] = []): GatewayConfig {
  const schema = kinds === upstreamKinds ? configSchema : configSchemaFor(kinds);
  const result = (schema as typeof configSchema).safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    // The variable that set this key (or the section above it), so the operator knows where to look.
    const source = sources.find((s) => s.path.length <= issue.path.length && s.path.every((seg, i) => seg === issue.path[i]));
    return `${key}: ${issue.message}${source ? ` (from ${source.variable})` : ''}`;
  });
  throw new ConfigError(issues);
}

/**
 * Environment overrides, applied on top of the file: every key by the mapping src/config-env.ts
 * derives from the schema (`CONSOLE_GATEWAY_<KEY PATH>`, `CONSOLE_GATEWAY_PROVIDER_<NAME>_<KEY PATH>`,
 * `<VARIABLE>_FILE`). Throws ConfigError for a variable no key maps to or a value of the wrong type.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, kinds: readonly AnyUpstreamKind[] = upstreamKinds): Record<string, unknown> {
  return overlay(raw, env, kinds).raw;
}

/** `raw` with the environment applied, validated; a refused value names the variable that set it beside the key. */
export function configFromEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, kinds: readonly AnyUpstreamKind[] = upstreamKinds): GatewayConfig {
  const { raw: merged, sources } = overlay(raw, env, kinds);
  return validateConfig(merged, kinds, sources);
}

const rootEnvKeys = new Map<readonly AnyUpstreamKind[], Map<string, EnvKey>>();
const providerEnvKeys = new Map<AnyUpstreamKind, Map<string, EnvKey>>();

function overlay(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, kinds: readonly AnyUpstreamKind[]) {
  let root = rootEnvKeys.get(kinds);
  if (!root) rootEnvKeys.set(kinds, (root = envKeysOf(kinds === upstreamKinds ? configSchema : configSchemaFor(kinds), ['providers'])));
  const forKind = (kind: unknown): Map<string, EnvKey> | undefined => {
    const descriptor = kinds.find((k) => k.kind === kind);
    if (!descriptor) return undefined;
    let keys = providerEnvKeys.get(descriptor);
    // `kind` picks the schema; it is not itself settable by name.
    if (!keys) providerEnvKeys.set(descriptor, (keys = envKeysOf(descriptor.configSchema, ['kind', 'name'])));
    return keys;
  };
  return overlayEnv(raw, env, root, forKind);
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

/** Read a config file (YAML or JSON; JSON is valid YAML), apply the environment and validate. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--config: cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const raw = readYaml(text, path);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([`(root): "${path}" must contain a mapping with at least a \`providers\` list`]);
  }
  return configFromEnv(raw as Record<string, unknown>, env);
}

/** Why the YAML reader refused a file, by the `yaml` package's error code: fixed text, never the file's own. */
const YAML_PROBLEMS: Record<string, string> = {
  TAG_RESOLVE_FAILED: 'unknown tag (`!...`): tags are not supported; quote a value that starts with `!`',
  UNRESOLVED_ALIAS: 'alias (`*...`) to no anchor; quote a value that starts with `*`',
  ALIAS_PROPS: 'an alias cannot carry an anchor or a tag',
  DUPLICATE_KEY: 'duplicate key',
  MISSING_CHAR: 'unclosed quote or bracket',
  BAD_INDENT: 'bad indentation',
  MULTIPLE_DOCS: 'more than one document',
};

/**
 * The file's YAML as plain data. Strict, and quiet about values: every error and warning of the
 * `yaml` package (unknown `!tags`, which it would otherwise resolve to a different string, aliases
 * to no anchor, duplicate keys, syntax) refuses the file with a message naming the line and key,
 * never the text there, which may be a password. `logLevel: 'silent'` keeps the package from
 * printing warnings to stderr itself. Anchors and aliases that resolve are kept; an alias bomb
 * stops at the package's `maxAliasCount` (100 expansions).
 */
function readYaml(text: string, path: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'silent', lineCounter, uniqueKeys: true, strict: true });
  const where = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    const key = keyPathAt(doc.contents, offset);
    return `line ${line}, column ${col}${key ? ` (key \`${key}\`)` : ''}`;
  };
  const problems = [...doc.errors, ...doc.warnings].map((e) => `${where(e.pos[0])}: ${YAML_PROBLEMS[e.code] ?? `syntax error (${e.code})`}`);
  visit(doc, {
    Alias(_key, node) {
      if (!node.resolve(doc)) problems.push(`${where(node.range?.[0] ?? 0)}: ${YAML_PROBLEMS.UNRESOLVED_ALIAS}`);
    },
  });
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `--config: "${path}" is not valid YAML or JSON: ${p}`));
  try {
    return doc.toJS();
  } catch {
    // An alias bomb (maxAliasCount) or a resolution failure: the package's message may quote the file.
    throw new ConfigError([`--config: "${path}" is not valid YAML or JSON: too many or unresolvable aliases`]);
  }
}

/** Dotted path of the key whose entry holds `offset` (`providers.0.password`), or '' at the root. */
function keyPathAt(node: unknown, offset: number): string {
  const path: string[] = [];
  let current = node as YamlNode | null | undefined;
  const contains = (n: unknown): boolean => {
    const range = (n as { range?: [number, number, number] } | null | undefined)?.range;
    return range !== undefined && offset >= range[0] && offset <= range[2];
  };
  for (let depth = 0; depth < 64 && current; depth++) {
    if (isMap(current)) {
      const pair = current.items.find((p) => contains(p.key) || contains(p.value)) ?? current.items.filter((p) => isPair(p) && offsetAfter(p.key, offset)).at(-1);
      if (!pair) break;
      path.push(isScalar(pair.key) ? String(pair.key.value).slice(0, 64) : '?');
      current = contains(pair.value) ? (pair.value as YamlNode) : null;
    } else if (isSeq(current)) {
      const index = current.items.findIndex((item) => contains(item));
      if (index < 0) break;
      path.push(String(index));
      current = current.items[index] as YamlNode;
    } else {
      break;
    }
    if (isAlias(current)) break;
  }
  return path.join('.');
}

/** The last key before `offset` (a value the parser could not place still belongs to the key before it). */
function offsetAfter(key: unknown, offset: number): boolean {
  const range = (key as { range?: [number, number, number] } | null | undefined)?.range;
  return range !== undefined && range[0] <= offset;
}
