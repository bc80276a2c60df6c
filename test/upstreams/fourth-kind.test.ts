/**
 * A fourth upstream kind, defined here and registered with one line (`kinds` below), shows up in
 * the config, the registry and GraphQL without a change anywhere else.
 */
import type { GraphQLEnumType } from 'graphql';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { startGateway, type RunningGateway } from '../../src/app.js';
import { validateConfig } from '../../src/config.js';
import { ConfigError, ConsoleUnavailableError, NotFoundError } from '../../src/errors.js';
import { buildGatewaySchema, kindEnumValues, loadTypeDefs, sdlEnumValues } from '../../src/graphql/schema.js';
import { defineUpstreamKind } from '../../src/upstreams/descriptor.js';
import { upstreamKinds, type ProviderKind } from '../../src/upstreams/kinds.js';
import type { EventSource } from '../../src/events/types.js';
import type { ConsoleTarget, Provider, ReadyStatus, UpstreamStateRecord, VmListPage, VmListRequest, VmRecord } from '../../src/upstreams/types.js';
import { DEFAULT_CLOUDTOWER_USER, startCloudTowerSimulator, type CloudTowerSimulator } from '../../src/simulators/cloudtower/index.js';
import { postGraphQL } from '../helpers/gateway.js';
import { captureLogger } from '../helpers/log-capture.js';

const memoryConfigSchema = z
  .object({
    kind: z.literal('memory'),
    name: z.string().regex(/^[a-z][a-z0-9-]*$/),
    /** The VMs this upstream holds, by name. @default two VMs */
    vms: z.array(z.string().min(1)).default(['alpha', 'beta']),
  })
  .strict();

/** A tiny in-memory provider: a fixed VM list, no consoles. */
class MemoryProvider implements Provider {
  readonly kind = 'memory';
  readonly defaultConsoleMode = 'GATEWAY' as const;
  readonly name: string;
  private readonly records: VmRecord[];

  constructor(config: z.infer<typeof memoryConfigSchema>) {
    this.name = config.name;
    this.records = config.vms.map((name, i) => ({ provider: config.name, providerKind: 'memory', upstreamId: String(i + 1), name, status: 'RUNNING', rawStatus: 'on' }));
  }

  async listVms(req: VmListRequest): Promise<VmListPage> {
    return { vms: this.records.slice(req.skip, req.skip + req.first), hasMore: this.records.length > req.skip + req.first };
  }

  async getVm(upstreamId: string): Promise<VmRecord | null> {
    return this.records.find((vm) => vm.upstreamId === upstreamId) ?? null;
  }

  async consoleTarget(upstreamId: string): Promise<ConsoleTarget> {
    if (!(await this.getVm(upstreamId))) throw new NotFoundError(`no VM ${upstreamId}`);
    throw new ConsoleUnavailableError('in-memory VMs have no console');
  }

  parseUpstreamId(): void {}

  async checkReady(): Promise<ReadyStatus> {
    return { ok: true };
  }

  async state(): Promise<UpstreamStateRecord> {
    return { connected: true, lastEventAt: null, registrations: [], lastError: null };
  }

  async close(): Promise<void> {}
}

const memoryKind = defineUpstreamKind({
  kind: 'memory',
  configSchema: memoryConfigSchema,
  provides: { vms: true, consoles: false, events: false },
  create: (config) => new MemoryProvider(config),
});

const kinds = [...upstreamKinds, memoryKind];

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('a fourth upstream kind, registered with one line', () => {
  let sim: CloudTowerSimulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    sim = await startCloudTowerSimulator();
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        providers: [
          { name: 'tower', kind: 'cloudtower', url: sim.url, username: DEFAULT_CLOUDTOWER_USER.username, password: DEFAULT_CLOUDTOWER_USER.password },
          { name: 'mem', kind: 'memory' },
        ],
      },
      kinds,
    );
    gateway = await startGateway(config, { logger: captureLogger().logger, kinds });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  it('lists its VMs beside the built-in kinds in `vms`, and shows it in `providers` and `upstreams`', async () => {
    const res = await postGraphQL<{
      mem: { nodes: { id: string; name: string; provider: { name: string; kind: string } }[] };
      all: { nodes: { provider: { name: string } }[] };
      providers: { name: string; kind: string }[];
      upstreams: { name: string; kind: string; connected: boolean }[];
    }>(
      gateway.url,
      `{
        mem: vms(provider: "mem") { nodes { id name provider { name kind } } }
        all: vms(first: 100) { nodes { provider { name } } }
        providers { name kind }
        upstreams { name kind connected }
      }`,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.mem.nodes).toEqual([
      { id: 'mem:1', name: 'alpha', provider: { name: 'mem', kind: 'MEMORY' } },
      { id: 'mem:2', name: 'beta', provider: { name: 'mem', kind: 'MEMORY' } },
    ]);
    expect(new Set(res.data!.all.nodes.map((n) => n.provider.name))).toEqual(new Set(['tower', 'mem']));
    expect(res.data!.providers).toEqual([
      { name: 'tower', kind: 'CLOUDTOWER' },
      { name: 'mem', kind: 'MEMORY' },
    ]);
    expect(res.data!.upstreams).toContainEqual({ name: 'mem', kind: 'MEMORY', connected: true });
  });

  it('answers `vm` for one of its VMs by global id', async () => {
    const res = await postGraphQL<{ vm: { name: string } }>(gateway.url, '{ vm(id: "mem:2") { name } }');
    expect(res.errors).toBeUndefined();
    expect(res.data!.vm).toEqual({ name: 'beta' });
  });

  it('validates its entries with its own schema, defaults included', () => {
    const config = validateConfig({ providers: [{ name: 'mem', kind: 'memory' }] }, kinds);
    expect(config.providers[0]).toEqual({ name: 'mem', kind: 'memory', vms: ['alpha', 'beta'] });
    expect(issuesOf(() => validateConfig({ providers: [{ name: 'mem', kind: 'memory', colour: 'red' }] }, kinds)).join()).toMatch(/^providers\.0: .*colour/);
  });
});

describe('upstream kinds in config and schema', () => {
  it('refuses an unknown `kind` with a message naming the key and the known kinds', () => {
    const entry = { name: 'vc', kind: 'vsphere', url: 'https://vc.example', username: 'u', password: 'secret-pw' };
    const issues = issuesOf(() => validateConfig({ providers: [entry] }));
    expect(issues).toEqual(['providers.0.kind: must be one of `cloudtower`, `abiquo`, `drp`']);
    expect(issuesOf(() => validateConfig({ providers: [entry] }, kinds))).toEqual(['providers.0.kind: must be one of `cloudtower`, `abiquo`, `drp`, `memory`']);
    expect(issuesOf(() => validateConfig({ providers: [{ name: 'x', url: 'https://x.example', token: 't' }] }))).toEqual([
      'providers.0.kind: must be one of `cloudtower`, `abiquo`, `drp`',
    ]);
  });

  it('derives ProviderKind and EventSource from the kind list', () => {
    expectTypeOf<ProviderKind>().toEqualTypeOf<'cloudtower' | 'abiquo' | 'drp'>();
    expectTypeOf<EventSource>().toEqualTypeOf<'ABIQUO' | 'DRP' | 'GATEWAY'>();
  });

  it('keeps the SDL enums equal to the built-in kinds, so the contract cannot drift from kinds.ts', () => {
    const typeDefs = loadTypeDefs();
    const expected = kindEnumValues(upstreamKinds);
    expect(sdlEnumValues(typeDefs, 'ProviderKind')).toEqual(expected.ProviderKind);
    expect(new Set(sdlEnumValues(typeDefs, 'EventSource'))).toEqual(new Set([...expected.EventSource, 'GATEWAY']));
  });

  it('gives a registered kind its values in the running schema: ProviderKind always, EventSource when it publishes events', () => {
    const feedKind = defineUpstreamKind({
      kind: 'feed',
      configSchema: z.object({ kind: z.literal('feed'), name: z.string() }).strict(),
      provides: { vms: false, consoles: false, events: true },
      create: () => {
        throw new Error('not started in this test');
      },
    });
    const schema = buildGatewaySchema([...upstreamKinds, memoryKind, feedKind]);
    const values = (name: string) => (schema.getType(name) as GraphQLEnumType).getValues().map((v) => v.name);
    expect(new Set(values('ProviderKind'))).toEqual(new Set(['CLOUDTOWER', 'ABIQUO', 'DRP', 'MEMORY', 'FEED']));
    expect(new Set(values('EventSource'))).toEqual(new Set(['DRP', 'ABIQUO', 'GATEWAY', 'FEED']));
  });
});
