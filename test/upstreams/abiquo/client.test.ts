import { afterEach, describe, expect, it } from 'vitest';
import { AbiquoClient, type AbiquoClientConfig } from '../../../src/upstreams/abiquo/client.js';
import type { AbiquoVm } from '../../../src/upstreams/abiquo/model.js';
import {
  AbiquoSimulator,
  generateAbiquoData,
  simVm,
  type AbiquoSimulatorOptions,
} from '../../../src/simulators/abiquo/index.js';
import { abiquoConfig } from './helpers.js';

let sims: AbiquoSimulator[] = [];
let clients: AbiquoClient[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
  clients = [];
});

/** `config` goes through the schema; `unchecked` is laid over the result (values the schema refuses). */
async function setup(simOpts: AbiquoSimulatorOptions = {}, config: Record<string, unknown> = {}, unchecked: Partial<AbiquoClientConfig> = {}) {
  const sim = await AbiquoSimulator.start(simOpts);
  sims.push(sim);
  const client = new AbiquoClient({ ...abiquoConfig({ url: sim.apiUrl, username: 'admin', password: 'xabiquo', ...config }), ...unchecked }, {});
  clients.push(client);
  return { sim, client };
}

const withoutLinks = (vms: AbiquoVm[]) => vms.map(({ links: _links, ...rest }) => rest);

describe('AbiquoClient walk', () => {
  it('walks enterprises and their VMs in JSON with versioned media types', async () => {
    const { sim, client } = await setup();
    const result = await client.walk();
    expect(result.errors).toEqual([]);
    expect(result.enterprises.map((e) => [e.id, e.name])).toEqual([
      [1, 'Abiquo'],
      [2, 'Acme'],
      [3, 'Globex'],
    ]);
    expect(result.vms.map((v) => `${v.enterpriseId}/${v.vm.id}`).sort()).toEqual(['1/1', '1/2', '1/3', '2/4', '2/5', '2/6', '2/7', '3/8']);
    const vm1 = result.vms.find((v) => v.vm.id === 1)!.vm;
    expect(vm1).toMatchObject({ label: 'web-1', state: 'ON', cpu: 2, ram: 2048, vdrpIP: '127.0.0.1', vdrpPort: 5901, vdrpEnabled: true, password: 'vncpass1' });
    expect(vm1.links.find((l) => l.rel === 'edit')?.href).toBe(`${sim.apiUrl}/cloud/virtualdatacenters/1/virtualappliances/1/virtualmachines/1`);
    const vm7 = result.vms.find((v) => v.vm.id === 7)!.vm;
    expect(vm7).toMatchObject({ vdrpIP: null, vdrpPort: null, state: 'NOT_ALLOCATED' });
    expect(sim.stats().lastAccept).toBe('application/vnd.abiquo.virtualmachines+json; version=4.7');
  });

  it('reads the same VMs from the XML twin (older APIs)', async () => {
    const { sim, client } = await setup();
    const json = await client.walk();
    const xmlClient = new AbiquoClient(abiquoConfig({ url: sim.apiUrl, username: 'admin', password: 'xabiquo', format: 'xml', apiVersion: '2.6' }), {});
    clients.push(xmlClient);
    const xml = await xmlClient.walk();
    expect(sim.stats().lastAccept).toBe('application/vnd.abiquo.virtualmachines+xml; version=2.6');
    const byId = (r: typeof json) => withoutLinks(r.vms.map((v) => v.vm).sort((a, b) => a.id - b.id));
    expect(byId(xml)).toEqual(byId(json));
    expect(xml.vms.find((v) => v.vm.id === 1)!.vm.links.map((l) => l.rel)).toContain('edit');
  });

  it.each(['json', 'xml'] as const)('follows rel=next through 60 VMs at page size 25 (%s)', async (format) => {
    const data = [{ id: 1, name: 'big', vms: Array.from({ length: 60 }, (_, i) => simVm(i + 1)) }];
    const { sim, client } = await setup({ data }, { pageSize: 25, format });
    const vms = await client.listEnterpriseVms(1);
    expect(vms.map((v) => v.id)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(sim.stats().vmListRequests).toBe(3);
  });

  it.each([1, 3])('keeps at most %i enterprise reads in flight', async (concurrency) => {
    const { sim, client } = await setup({ data: generateAbiquoData(12, 2), latencyMs: 20 }, { concurrency });
    const result = await client.walk();
    expect(result.vms).toHaveLength(24);
    expect(sim.stats().maxInFlight).toBe(concurrency);
  });

  it.each([
    ['json', 'error'],
    ['json', 'malformed'],
    ['xml', 'error'],
    ['xml', 'malformed'],
  ] as const)('returns the other enterprises when one fails (%s, %s)', async (format, fault) => {
    const { sim, client } = await setup({}, { format });
    sim.setFault(2, fault);
    const result = await client.walk();
    expect(result.vms.map((v) => v.enterpriseId).sort()).toEqual([1, 1, 1, 3]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]!.enterpriseId).toBe(2);
    expect(result.errors[0]!.error.code).toBe('UPSTREAM_ERROR');
    expect(result.errors[0]!.error.message).toContain('enterprise 2');
  });

  it('fails the walk when the enterprise list cannot be read', async () => {
    const { sim, client } = await setup();
    sim.setFault('enterprises', 'malformed');
    await expect(client.walk()).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
  });

  it('reports refused credentials as UPSTREAM_AUTH_FAILED without the password', async () => {
    const { client } = await setup({}, { password: 's3cret-wrong' });
    const err = await client.walk().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_AUTH_FAILED' });
    expect(String((err as Error).message)).not.toContain('s3cret-wrong');
    expect(JSON.stringify(err)).not.toContain('s3cret-wrong');
  });

  it.each(['Token', 'Bearer'] as const)('authenticates with %s tokens', async (scheme) => {
    const { client } = await setup({ tokens: ['tok-1'] }, { username: undefined, password: undefined, token: 'tok-1', tokenScheme: scheme });
    expect((await client.listEnterprises()).length).toBe(3);
    const bad = new AbiquoClient(abiquoConfig({ url: sims[0]!.apiUrl, token: 'nope', tokenScheme: scheme }), {});
    clients.push(bad);
    await expect(bad.listEnterprises()).rejects.toMatchObject({ code: 'UPSTREAM_AUTH_FAILED' });
  });

  it('never follows a next link to another origin', async () => {
    const { sim, client } = await setup({ publicBaseUrl: 'http://other-host.invalid:8080' }, { pageSize: 1 });
    await expect(client.listEnterprises()).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining('outside') });
    expect(sim.stats().enterpriseListRequests).toBe(1);
  });

  it('never follows a virtualmachines link to another origin', async () => {
    const { sim, client } = await setup({ publicBaseUrl: 'http://other-host.invalid' }, {}, { pageSize: 0 });
    const result = await client.walk();
    expect(result.vms).toEqual([]);
    expect(result.errors.map((e) => e.enterpriseId)).toEqual([1, 2, 3]);
    expect(sim.stats().vmListRequests).toBe(0);
  });

  it('maps a refused connection to UPSTREAM_UNAVAILABLE', async () => {
    const { sim, client } = await setup();
    await sim.close();
    sims = [];
    await expect(client.listEnterprises()).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('maps an upstream that never answers to UPSTREAM_TIMEOUT after the request deadline', async () => {
    const { sim, client } = await setup({}, { timeouts: { requestMs: 200 } });
    sim.setFault('enterprises', 'hang');
    await expect(client.listEnterprises()).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT', message: expect.stringContaining('timeouts.requestMs') });
  });

  it('reports an unknown enterprise with its HTTP status and Abiquo code', async () => {
    const { client } = await setup();
    await expect(client.listEnterpriseVms(99)).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', details: { status: 404, upstreamCode: 'EN-0' } });
  });
});
