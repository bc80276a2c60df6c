import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAbiquoProvider, type AbiquoProvider } from '../../../src/upstreams/abiquo/provider.js';
import {
  AbiquoSimulator,
  defaultAbiquoData,
  simVm,
  type AbiquoSimEnterprise,
  type AbiquoSimulatorOptions,
} from '../../../src/simulators/abiquo/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { RecordingPublisher } from '../../helpers/recording-publisher.js';
import { UpdateLog, abiquoConfig, upstreamDeps } from './helpers.js';

let sim: AbiquoSimulator | null = null;
let provider: AbiquoProvider | null = null;
let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'abq-provider-'));
});

afterEach(async () => {
  await provider?.close();
  await sim?.close();
  provider = null;
  sim = null;
  await fsp.rm(dir, { recursive: true, force: true });
});

const DEBOUNCE = 250;
const page = { skip: 0, first: 1000 };

async function setup(simOpts: AbiquoSimulatorOptions = {}, opts: Record<string, unknown> = {}) {
  sim = await AbiquoSimulator.start(simOpts);
  const timers = new FakeClock();
  const publisher = new RecordingPublisher();
  const tokenPath = join(dir, 'tokens.cfg');
  provider = createAbiquoProvider(
    abiquoConfig({
      url: sim.apiUrl,
      username: 'admin',
      password: 'xabiquo',
      tokenFile: { path: tokenPath },
      refreshDebounceMs: DEBOUNCE,
      resyncIntervalMs: 0,
      backoff: { initialMs: 1000 },
      ...opts,
    }),
    upstreamDeps(publisher, timers),
    { random: () => 0.5 },
  );
  const updates = new UpdateLog(provider);
  return { sim, provider, timers, publisher, tokenPath, updates };
}

/** Start-up: one walk from the constructor and one for the stream's first connect (possibly coalesced). */
async function started(ctx: Awaited<ReturnType<typeof setup>>) {
  await ctx.sim.waitForStreams(1);
  await ctx.updates.waitFor((u) => u.kind === 'walk', 2);
}

/** Token file lines computed independently of the code under test. */
function expectedTokenFile(data: AbiquoSimEnterprise[]): string {
  const lines = data
    .flatMap((e) => e.vms)
    .filter((v) => v.vdrpEnabled && v.vdrpIP !== null && typeof v.vdrpPort === 'number')
    .map((v) => `${v.vdrpIP}:${v.vdrpPort}`)
    .map((c) => `${createHash('md5').update(c).digest('hex')}: ${c}`);
  return [...new Set(lines)].sort().map((l) => l + '\n').join('');
}

const idsOf = (data: AbiquoSimEnterprise[]) => data.flatMap((e) => e.vms.map((v) => `${e.id}/${v.id}`)).sort();

describe('Abiquo provider: listings', () => {
  it('serves normalised records from the walk and writes the token file', async () => {
    const ctx = await setup();
    await started(ctx);
    const { vms, hasMore } = await ctx.provider.listVms(page);
    expect(hasMore).toBe(false);
    expect(vms.map((v) => v.upstreamId)).toEqual(['1/1', '1/2', '1/3', '2/4', '2/5', '2/6', '2/7', '3/8']);
    expect(vms[0]).toEqual({
      provider: 'abq',
      providerKind: 'abiquo',
      upstreamId: '1/1',
      name: 'web-1',
      label: 'web-1',
      status: 'RUNNING',
      rawStatus: 'ON',
      cluster: null,
      host: null,
      enterprise: { id: '1', name: 'Abiquo' },
      vcpu: 2,
      memoryBytes: 2048 * 1048576,
    });
    expect(vms.map((v) => v.status)).toEqual(['RUNNING', 'RUNNING', 'STOPPED', 'RUNNING', 'SUSPENDED', 'RUNNING', 'NOT_DEPLOYED', 'LOCKED']);
    const text = await fsp.readFile(ctx.tokenPath, 'utf8');
    expect(text).toBe(expectedTokenFile(defaultAbiquoData()));
    expect(text).not.toContain(':5906'); // remote desktop disabled
    expect(text.split('\n')).toHaveLength(7); // 6 lines + trailing newline
    expect(ctx.provider.tokenFileText()).toBe(text);
  });

  it('applies filters, skip and first', async () => {
    const ctx = await setup();
    await started(ctx);
    const acme = await ctx.provider.listVms({ filter: { nameStartsWith: 'acme' }, skip: 1, first: 2 });
    expect(acme).toEqual({ vms: [expect.objectContaining({ upstreamId: '2/5' }), expect.objectContaining({ upstreamId: '2/6' })], hasMore: true });
    const running = await ctx.provider.listVms({ filter: { status: ['RUNNING'], nameContains: 'web' }, ...page });
    expect(running.vms.map((v) => v.name)).toEqual(['web-1', 'web-2']);
    expect((await ctx.provider.listVms({ filter: { name: 'db-1' }, ...page })).vms.map((v) => v.upstreamId)).toEqual(['1/3']);
    expect((await ctx.provider.listVms({ filter: { cluster: 'any' }, ...page })).vms).toEqual([]);
  });

  it('reads the same records over XML', async () => {
    const json = await setup();
    await started(json);
    const expected = (await json.provider.listVms(page)).vms;
    await json.provider.close();
    await json.sim.close();
    const xml = await setup({}, { format: 'xml', apiVersion: '2.6' });
    await started(xml);
    expect((await xml.provider.listVms(page)).vms).toEqual(expected);
  });

  it('validates upstream ids', async () => {
    const ctx = await setup({}, { events: { enabled: false } });
    for (const bad of ['', '7', '1/x', '1/2/3', '/7', '1/']) {
      expect(() => ctx.provider.parseUpstreamId(bad)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    }
    expect(() => ctx.provider.parseUpstreamId('1/7')).not.toThrow();
    expect(await ctx.provider.getVm('1/2')).toMatchObject({ name: 'web-2' });
    expect(await ctx.provider.getVm('2/2')).toBeNull();
  });

  it('serves the others and reports an enterprise that fails', async () => {
    const ctx = await setup({}, { events: { enabled: false } });
    ctx.sim.setFault(2, 'error');
    const { vms } = await ctx.provider.listVms(page);
    expect(vms.map((v) => v.upstreamId)).toEqual(['1/1', '1/2', '1/3', '3/8']);
    expect(ctx.provider.cacheState().enterpriseErrors).toEqual([{ enterpriseId: 2, code: 'UPSTREAM_ERROR' }]);
    expect(await ctx.provider.checkReady()).toMatchObject({ ok: true, detail: expect.stringContaining('1 enterprise') });
  });

  it('fails listings with UPSTREAM_AUTH_FAILED when the credentials are refused', async () => {
    const ctx = await setup({}, { password: 'not-the-password', events: { enabled: false } });
    const err = await ctx.provider.listVms(page).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_AUTH_FAILED' });
    expect(JSON.stringify(err) + String(err)).not.toContain('not-the-password');
    expect(await ctx.provider.checkReady()).toMatchObject({ ok: false });
  });

  it('reports an unwritable token file in readiness', async () => {
    const ctx = await setup({}, { tokenFile: { path: join(dir, 'missing-dir', 'tokens.cfg') }, events: { enabled: false } });
    await ctx.provider.listVms(page);
    expect(ctx.provider.cacheState().tokenFile).toMatchObject({ ok: false, lastError: 'ENOENT' });
    expect(await ctx.provider.checkReady()).toMatchObject({ ok: false, detail: expect.stringContaining('token file') });
  });

  it('is ready after a good walk', async () => {
    const ctx = await setup();
    await started(ctx);
    expect(await ctx.provider.checkReady()).toMatchObject({ ok: true });
    expect(ctx.provider.cacheState()).toMatchObject({ loaded: true, enterprises: 3, vms: 8, lastWalk: { ok: true } });
    expect(await ctx.provider.state()).toEqual({
      connected: true,
      lastEventAt: null,
      registrations: ['DEPLOY', 'UNDEPLOY', 'DEPLOY_FINISH', 'UNDEPLOY_FINISH'],
      lastError: null,
    });
    ctx.sim.emitVmEvent(1, 1, 'DEPLOY_FINISH');
    await ctx.publisher.waitFor((e) => e.action === 'DEPLOY_FINISH');
    expect((await ctx.provider.state()).lastEventAt).toEqual(expect.any(String));
    ctx.sim.refuseStreams(503);
    ctx.sim.dropStreams();
    ctx.timers.fire(await ctx.timers.nextTimer((t) => t.ms === 500));
    await ctx.timers.nextTimer((t) => t.ms === 1000);
    expect(await ctx.provider.state()).toMatchObject({ connected: false, lastError: 'UPSTREAM_ERROR' });
  });
});

describe('Abiquo provider: consoles', () => {
  it('returns the VNC endpoint and password of a VM', async () => {
    const ctx = await setup({}, { events: { enabled: false } });
    expect(await ctx.provider.consoleTarget('1/1')).toEqual({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 5901,
      vncPassword: 'vncpass1',
      describe: 'vnc://127.0.0.1:5901',
    });
    await expect(ctx.provider.consoleTarget('2/6')).rejects.toMatchObject({ code: 'CONSOLE_UNAVAILABLE' });
    await expect(ctx.provider.consoleTarget('2/7')).rejects.toMatchObject({ code: 'CONSOLE_UNAVAILABLE' });
    await expect(ctx.provider.consoleTarget('3/99')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses VMs with malformed vdrp fields and leaves them out of the token file', async () => {
    const data: AbiquoSimEnterprise[] = [
      {
        id: 1,
        name: 'E',
        vms: [
          simVm(1, { vdrpPort: 'abc' }),
          simVm(2, { vdrpPort: 70_000 }),
          simVm(3, { vdrpIP: 'bad host\nx: 1.2.3.4' }),
          simVm(4, { vdrpIP: '10.1.2.3', vdrpPort: 5904 }),
        ],
      },
    ];
    const ctx = await setup({ data }, { events: { enabled: false } });
    for (const id of ['1/1', '1/2', '1/3']) {
      await expect(ctx.provider.consoleTarget(id)).rejects.toMatchObject({ code: 'CONSOLE_UNAVAILABLE' });
    }
    expect(await ctx.provider.consoleTarget('1/4')).toMatchObject({ host: '10.1.2.3', port: 5904 });
    await ctx.provider.listVms(page);
    const text = await fsp.readFile(ctx.tokenPath, 'utf8');
    expect(text).toBe(`${createHash('md5').update('10.1.2.3:5904').digest('hex')}: 10.1.2.3:5904\n`);
  });
});

describe('Abiquo provider: events', () => {
  it('publishes deploy events and refreshes only that enterprise, once per burst', async () => {
    const ctx = await setup();
    await started(ctx);
    ctx.sim.resetStats();
    ctx.sim.deployVm(2, { id: 20, label: 'fresh', password: 'pw20', vdcId: 2, vappId: 3 });
    const finish = await ctx.publisher.waitFor((e) => e.action === 'DEPLOY_FINISH');
    const deploy = ctx.publisher.events.find((e) => e.action === 'DEPLOY')!;
    expect(deploy).toBeDefined();
    expect(finish).toMatchObject({
      source: 'ABIQUO',
      provider: 'abq',
      type: 'virtualmachines',
      key: 'abq:2/20',
      principal: '/admin/enterprises/1/users/1',
      original: null,
      object: expect.objectContaining({ action: 'DEPLOY_FINISH', entityIdentifier: '/cloud/virtualdatacenters/2/virtualappliances/3/virtualmachines/20' }),
    });
    expect(new Date(finish.time).toISOString()).toBe(finish.time);

    const debounced = ctx.timers.pending.filter((t) => t.ms === DEBOUNCE);
    expect(debounced).toHaveLength(1);
    ctx.timers.fire(debounced[0]!);
    await ctx.updates.waitFor((u) => u.kind === 'enterprise' && u.enterpriseId === 2);
    expect(ctx.sim.stats()).toMatchObject({ vmListRequests: 1, enterpriseListRequests: 0 });
    expect(await ctx.provider.getVm('2/20')).toMatchObject({ name: 'fresh', status: 'RUNNING' });
    expect(await ctx.provider.consoleTarget('2/20')).toMatchObject({ port: 5920, vncPassword: 'pw20' });
    expect(await fsp.readFile(ctx.tokenPath, 'utf8')).toBe(expectedTokenFile(ctx.sim.snapshot()));
    expect(await fsp.readFile(ctx.tokenPath, 'utf8')).toContain('127.0.0.1:5920');
  });

  it('removes an undeployed VM from the token file', async () => {
    const ctx = await setup();
    await started(ctx);
    ctx.sim.undeployVm(1, 1);
    await ctx.publisher.waitFor((e) => e.action === 'UNDEPLOY_FINISH');
    ctx.timers.fire(await ctx.timers.nextTimer((t) => t.ms === DEBOUNCE));
    await ctx.updates.waitFor((u) => u.kind === 'enterprise' && u.enterpriseId === 1);
    expect(await ctx.provider.getVm('1/1')).toMatchObject({ status: 'NOT_DEPLOYED' });
    expect(await fsp.readFile(ctx.tokenPath, 'utf8')).not.toContain('127.0.0.1:5901');
    await expect(ctx.provider.consoleTarget('1/1')).rejects.toMatchObject({ code: 'CONSOLE_UNAVAILABLE' });
  });

  it('publishes trace-format events with the owning enterprise in the key', async () => {
    const ctx = await setup({ eventFormat: 'trace' });
    await started(ctx);
    ctx.sim.deployVm(3, { id: 33 });
    const ev = await ctx.publisher.waitFor((e) => e.action === 'DEPLOY_FINISH');
    expect(ev).toMatchObject({ key: 'abq:3/33', principal: '/admin/enterprises/1/users/1', type: 'virtualmachines' });
  });

  it('resynchronises fully after the stream comes back, as changes while it was down are not replayed', async () => {
    const ctx = await setup();
    await started(ctx);
    ctx.sim.refuseStreams(503);
    ctx.sim.dropStreams();
    // Changes nobody is told about.
    ctx.sim.putVm(3, simVm(30, { label: 'while-down', vdcId: 3, vappId: 5 }));
    ctx.sim.removeVm(1, 2);
    ctx.sim.addEnterprise(4, 'Initech');
    ctx.sim.putVm(4, simVm(40, { label: 'initech-1' }));
    ctx.sim.removeEnterprise(2);

    ctx.timers.fire(await ctx.timers.nextTimer((t) => t.ms === 500)); // attempt 1: refused
    await ctx.timers.nextTimer((t) => t.ms === 1000);
    expect(ctx.provider.cacheState().stream).toMatchObject({ connected: false, lastError: 'UPSTREAM_ERROR' });
    ctx.sim.refuseStreams(null);
    ctx.timers.fire(await ctx.timers.nextTimer((t) => t.ms === 1000));
    await ctx.updates.waitFor((u) => u.kind === 'walk', 3);

    const expected = ctx.sim.snapshot();
    expect((await ctx.provider.listVms(page)).vms.map((v) => v.upstreamId).sort()).toEqual(idsOf(expected));
    expect(await fsp.readFile(ctx.tokenPath, 'utf8')).toBe(expectedTokenFile(expected));
    expect(await ctx.provider.getVm('1/2')).toBeNull();
  });

  it('refreshes the enterprise list for an event about an enterprise it does not know', async () => {
    const ctx = await setup();
    await started(ctx);
    ctx.sim.resetStats();
    ctx.sim.addEnterprise(9, 'New Co');
    ctx.sim.putVm(9, simVm(90, { label: 'newco-1' }));
    ctx.sim.emitVmEvent(9, 90, 'DEPLOY_FINISH');
    ctx.sim.emitVmEvent(77, 770, 'DEPLOY_FINISH'); // an enterprise that does not exist at all
    await ctx.publisher.waitFor((e) => e.key === 'abq:77/770');
    expect(ctx.publisher.events.filter((e) => e.source === 'ABIQUO').map((e) => e.key)).toEqual(['abq:9/90', 'abq:77/770']);
    const timers = ctx.timers.pending.filter((t) => t.ms === DEBOUNCE);
    expect(timers).toHaveLength(1);
    ctx.timers.fire(timers[0]!);
    await ctx.updates.waitFor((u) => u.kind === 'enterprise-list');
    expect(ctx.sim.stats()).toMatchObject({ enterpriseListRequests: 1, vmListRequests: 1 });
    expect(await ctx.provider.getVm('9/90')).toMatchObject({ name: 'newco-1', enterprise: { id: '9', name: 'New Co' } });
    expect(await fsp.readFile(ctx.tokenPath, 'utf8')).toContain(`127.0.0.1:${5900 + 90}`);
    expect(ctx.provider.cacheState().lastWalk.ok).toBe(true);
  });

  it('fails listings with UPSTREAM_UNAVAILABLE when the API cannot be reached', async () => {
    const ctx = await setup({}, { events: { enabled: false } });
    await ctx.provider.listVms(page);
    const url = ctx.sim.apiUrl;
    await ctx.provider.close();
    await ctx.sim.close();
    sim = null;
    provider = createAbiquoProvider(
      abiquoConfig({ url, username: 'admin', password: 'xabiquo', events: { enabled: false }, resyncIntervalMs: 0 }),
      upstreamDeps(new RecordingPublisher(), new FakeClock()),
    );
    await expect(provider.listVms(page)).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(await provider.checkReady()).toMatchObject({ ok: false });
  });
});
