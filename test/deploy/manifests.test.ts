/**
 * deploy/ checked against the gateway itself: the Kubernetes manifests and the compose file are parsed
 * (the `yaml` package), their shapes asserted through typed validators over `kubernetes-types`, and
 * what they say compared with what the gateway does: the config they mount loads with the environment
 * they set, the ports they expose are `server.port`, the probe paths are routes the server answers,
 * and the pod's grace period outlasts the console grace.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Container, Service } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startGateway, type RunningGateway } from '../../src/app.js';
import { applyEnvOverrides, validateConfig, type GatewayConfig } from '../../src/config.js';
import { captureLogger } from '../helpers/log-capture.js';

const deployDir = new URL('../../deploy/', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, deployDir), 'utf8');

// ---- typed validators: the fields these tests rely on, asserted present with their types -------------

function fail(what: string): never {
  throw new Error(`deploy/: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asContainer(v: unknown, where: string): Container {
  if (!isObject(v) || typeof v.name !== 'string' || typeof v.image !== 'string') fail(`${where}: a container needs name and image`);
  for (const p of (v.ports as unknown[] | undefined) ?? []) {
    if (!isObject(p) || typeof p.containerPort !== 'number') fail(`${where}: a port needs a numeric containerPort`);
  }
  for (const e of (v.env as unknown[] | undefined) ?? []) {
    if (!isObject(e) || typeof e.name !== 'string' || (e.value === undefined) === (e.valueFrom === undefined)) fail(`${where}: an env entry needs a name and one of value/valueFrom`);
  }
  return v as unknown as Container;
}

function asDeployment(v: unknown): Deployment {
  if (!isObject(v) || v.apiVersion !== 'apps/v1' || v.kind !== 'Deployment') fail('not an apps/v1 Deployment');
  const d = v as Deployment;
  if (!d.metadata?.name || !d.spec?.selector.matchLabels || !d.spec.template.metadata?.labels) fail('a Deployment needs a name, a selector and template labels');
  if (!Array.isArray(d.spec.template.spec?.containers) || d.spec.template.spec.containers.length === 0) fail(`${d.metadata.name}: no containers`);
  d.spec.template.spec.containers.forEach((c, i) => asContainer(c, `${d.metadata!.name} container ${i}`));
  return d;
}

function asService(v: unknown): Service {
  if (!isObject(v) || v.apiVersion !== 'v1' || v.kind !== 'Service') fail('not a v1 Service');
  const s = v as Service;
  if (!s.metadata?.name || !s.spec?.selector || !Array.isArray(s.spec.ports)) fail('a Service needs a name, a selector and ports');
  return s;
}

function asPdb(v: unknown): PodDisruptionBudget {
  if (!isObject(v) || v.apiVersion !== 'policy/v1' || v.kind !== 'PodDisruptionBudget') fail('not a policy/v1 PodDisruptionBudget');
  const p = v as PodDisruptionBudget;
  if (!p.spec?.selector?.matchLabels || (p.spec.maxUnavailable === undefined && p.spec.minAvailable === undefined)) fail('a PodDisruptionBudget needs a selector and maxUnavailable or minAvailable');
  return p;
}

function asConfigMap(v: unknown): ConfigMap {
  if (!isObject(v) || v.apiVersion !== 'v1' || v.kind !== 'ConfigMap') fail('not a v1 ConfigMap');
  const c = v as ConfigMap;
  if (!c.metadata?.name || !isObject(c.data)) fail('a ConfigMap needs a name and data');
  return c;
}

// ---- the manifests ----------------------------------------------------------------------------------

const docs = ['kubernetes/configmap.yaml', 'kubernetes/gateway.yaml', 'kubernetes/redis.yaml'].flatMap((f) =>
  parseAllDocuments(read(f)).map((d) => {
    if (d.errors.length > 0) fail(`${f}: ${d.errors[0]!.message}`);
    return d.toJS() as unknown;
  }),
);
const byKind = (kind: string): unknown[] => docs.filter((d) => isObject(d) && d.kind === kind);
const deployments = byKind('Deployment').map(asDeployment);
const services = byKind('Service').map(asService);
const pdbs = byKind('PodDisruptionBudget').map(asPdb);
const configMaps = byKind('ConfigMap').map(asConfigMap);
const gateway = deployments.find((d) => d.metadata!.name === 'console-gateway') ?? fail('no console-gateway Deployment');
const redisDeployment = deployments.find((d) => d.metadata!.name === 'console-gateway-redis') ?? fail('no Redis Deployment');
const gatewayContainer = gateway.spec!.template.spec!.containers[0]!;
const configMap = configMaps[0] ?? fail('no ConfigMap');

/** The variables a container sets; a value from a Secret stands in as a placeholder. */
function envOf(container: Container): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? 'from-a-secret']));
}

/** Each variable alone must change the config: one the environment mapping does not know would be silently useless. */
function checkEnvUnderstood(raw: Record<string, unknown>, env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    expect(name, 'gateway variables are CONSOLE_GATEWAY_*').toMatch(/^CONSOLE_GATEWAY_[A-Z0-9_]+$/);
    const changed = !isDeepStrictEqual(applyEnvOverrides(raw, { [name]: value }), raw);
    expect(changed, `${name} is not understood by the config`).toBe(true);
  }
}

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('the Kubernetes manifests', () => {
  const raw = parse(configMap.data!['config.yaml'] ?? fail('the ConfigMap has no config.yaml')) as Record<string, unknown>;
  const config: GatewayConfig = validateConfig(applyEnvOverrides(raw, envOf(gatewayContainer)));
  let running: RunningGateway | null = null;
  afterAll(async () => {
    await running?.close();
  });

  it('mount a config the gateway loads, with environment variables it understands', () => {
    checkEnvUnderstood(raw, envOf(gatewayContainer));
    const mount = gatewayContainer.volumeMounts?.find((m) => m.name === 'config') ?? fail('no config mount');
    expect(gatewayContainer.args?.join(' ')).toContain(`--config ${mount.mountPath}/config.yaml`);
    const volume = gateway.spec!.template.spec!.volumes?.find((v) => v.name === 'config');
    expect(volume?.configMap?.name).toBe(configMap.metadata!.name);
  });

  it('expose server.port, and the Service and probes reach it by name', () => {
    const port = gatewayContainer.ports?.find((p) => p.name === 'http') ?? fail('no http port');
    expect(port.containerPort).toBe(config.server.port);
    const service = services.find((s) => s.metadata!.name === 'console-gateway') ?? fail('no gateway Service');
    expect(matches(service.spec!.selector!, gateway.spec!.template.metadata!.labels!)).toBe(true);
    expect(service.spec!.ports!.map((p) => p.targetPort)).toEqual(['http']);
    expect(gatewayContainer.livenessProbe?.httpGet?.port).toBe('http');
    expect(gatewayContainer.readinessProbe?.httpGet?.port).toBe('http');
    expect(matches(gateway.spec!.selector.matchLabels!, gateway.spec!.template.metadata!.labels!)).toBe(true);
  });

  it("probe /healthz for liveness and /readyz for readiness, and the server answers both", async () => {
    expect(gatewayContainer.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(gatewayContainer.readinessProbe?.httpGet?.path).toBe('/readyz');
    // The same config on loopback, without Redis and with an upstream that is not there: the routes are what is checked.
    const probeConfig = validateConfig({
      ...raw,
      redis: undefined,
      server: { ...(raw.server as object), host: '127.0.0.1', port: 0 },
      providers: (raw.providers as Array<Record<string, unknown>>).map((p) => ({ ...p, url: 'http://127.0.0.1:9/api', password: 'x', events: { enabled: false } })),
    });
    running = await startGateway(probeConfig, { logger: captureLogger('fatal').logger });
    for (const probe of [gatewayContainer.livenessProbe!, gatewayContainer.readinessProbe!]) {
      const res = await fetch(`${running.url}${probe.httpGet!.path}`);
      expect([200, 503], `${probe.httpGet!.path} answers`).toContain(res.status);
    }
    expect((await fetch(`${running.url}/no-such-route`)).status).toBe(404);
  });

  it('give pods more time to stop than the console grace, and keep all but one replica through disruptions', () => {
    expect(gateway.spec!.template.spec!.terminationGracePeriodSeconds).toBeGreaterThan(config.shutdown.consoleGraceSeconds);
    expect(gateway.spec!.replicas).toBeGreaterThan(1);
    const pdb = pdbs[0] ?? fail('no PodDisruptionBudget');
    expect(matches(pdb.spec!.selector!.matchLabels!, gateway.spec!.template.metadata!.labels!)).toBe(true);
    expect(pdb.spec!.maxUnavailable).toBe(1);
  });

  it("point the gateway at the Redis Service, whose port is the Redis container's", () => {
    const url = new URL(config.redis?.url ?? fail('the config names no Redis'));
    const service = services.find((s) => s.metadata!.name === url.hostname) ?? fail(`no Service named ${url.hostname}`);
    expect(service.spec!.ports!.map((p) => p.port)).toContain(Number(url.port || 6379));
    expect(matches(service.spec!.selector!, redisDeployment.spec!.template.metadata!.labels!)).toBe(true);
    const redisPort = redisDeployment.spec!.template.spec!.containers[0]!.ports?.find((p) => p.name === service.spec!.ports![0]!.targetPort);
    expect(redisPort?.containerPort).toBe(6379);
  });
});

describe('the compose file', () => {
  interface ComposeService {
    image?: string;
    command?: string[];
    ports?: string[];
    environment?: Record<string, string>;
    depends_on?: string[];
    stop_grace_period?: string;
    volumes?: string[];
  }
  const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
  const gateways = Object.entries(compose.services).filter(([name]) => name.startsWith('gateway-'));
  const raw = parse(read('config.yaml')) as Record<string, unknown>;

  it('runs three gateway replicas and one Redis, each replica on server.port with a config it loads', () => {
    expect(gateways).toHaveLength(3);
    expect(compose.services.redis?.image).toMatch(/^redis:/);
    for (const [name, service] of gateways) {
      const env = service.environment ?? {};
      checkEnvUnderstood(raw, env);
      const config = validateConfig(applyEnvOverrides(raw, env));
      expect(service.ports?.map((p) => Number(p.split(':').at(-1))), name).toEqual([config.server.port]);
      expect(service.volumes?.some((v) => v.startsWith('./config.yaml:'))).toBe(true);
      expect(service.command?.join(' ')).toContain('--config /etc/console-gateway/config.yaml');
      expect(service.depends_on).toContain('redis');
      const redisUrl = new URL(env.CONSOLE_GATEWAY_REDIS_URL ?? config.redis?.url ?? fail(`${name} names no Redis`));
      expect(compose.services[redisUrl.hostname], `${name}: Redis host is a service`).toBeDefined();
      expect(Number(service.stop_grace_period?.replace(/s$/, ''))).toBeGreaterThan(config.shutdown.consoleGraceSeconds);
    }
    const published = gateways.map(([, s]) => s.ports![0]!.split(':')[0]);
    expect(new Set(published).size).toBe(3);
  });
});
