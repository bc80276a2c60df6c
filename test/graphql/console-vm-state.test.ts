import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream } from 'ws';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { useCleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { CLOSE_CONSOLE_UNAVAILABLE } from '../../src/simulators/cloudtower/index.js';
import { defaultAbiquoData, farmConsoles, startAbiquoSimulator, type AbiquoSimulator } from '../../src/simulators/abiquo/index.js';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});
const cleanups = useCleanups();

/** The gateway beside an Abiquo simulator (provider `abq`) whose farm consoles follow the VMs' power. */
async function withAbiquo(config: Record<string, unknown> = {}): Promise<{ abiquo: AbiquoSimulator; farm: ConsoleFarm }> {
  const farm = new ConsoleFarm();
  cleanups.add(() => farm.close());
  const data = defaultAbiquoData();
  const abiquo = await startAbiquoSimulator({ data, ...(await farmConsoles(data, farm)) });
  cleanups.add(() => abiquo.close());
  env = await startTowerGateway({ config, extraProviders: [{ name: 'abq', kind: 'abiquo', url: abiquo.url, username: 'admin', password: 'xabiquo' }] });
  return { abiquo, farm };
}

const OPEN = 'mutation($id: ID!, $mode: ConsoleMode) { openConsole(vmId: $id, mode: $mode) { url } }';

describe('consoles follow the VM status', () => {
  it('mints no ticket for a stopped VM: CONSOLE_UNAVAILABLE with its status, in every mode', async () => {
    env = await startTowerGateway();
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    env.sim.setVmStatus(vm.id, 'STOPPED');
    for (const mode of ['GATEWAY', 'DIRECT', 'UPSTREAM']) {
      const res: any = await env.gql(OPEN, { id: `tower:${vm.id}`, mode });
      expect(res.data).toEqual({ openConsole: null });
      expect(res.errors[0].extensions).toMatchObject({ code: 'CONSOLE_UNAVAILABLE', status: 'STOPPED', rawStatus: 'STOPPED', reason: 'VM_NOT_RUNNING' });
    }
    const q: any = await env.gql('query($id: ID!) { consoleUrl(vmId: $id) console(vmId: $id) { url } }', { id: `tower:${vm.id}` });
    expect(q.errors.map((e: any) => [e.path[0], e.extensions.code, e.extensions.status]).sort()).toEqual([
      ['console', 'CONSOLE_UNAVAILABLE', 'STOPPED'],
      ['consoleUrl', 'CONSOLE_UNAVAILABLE', 'STOPPED'],
    ]);
    expect(env.sim.requests.filter((r) => r.path === '/api')).toHaveLength(0);
  });

  it('opens the console again once the VM runs, and keeps it for a suspended VM', async () => {
    env = await startTowerGateway();
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    env.sim.setVmStatus(vm.id, 'STOPPED');
    expect((await env.gql(OPEN, { id: `tower:${vm.id}` })).errors?.[0]?.extensions?.code).toBe('CONSOLE_UNAVAILABLE');
    for (const status of ['RUNNING', 'SUSPENDED'] as const) {
      env.sim.setVmStatus(vm.id, status);
      const res: any = await env.gql(OPEN, { id: `tower:${vm.id}` });
      expect(res.errors).toBeUndefined();
      const rfb = await RfbTestClient.handshake(createWebSocketStream(await mustOpen(res.data.openConsole.url)));
      expect(rfb.serverInit.name).toBe('web-01');
      rfb.close();
    }
  });

  it("the simulator's websockify refuses a stopped VM's console, as the hypervisor has none", async () => {
    env = await startTowerGateway();
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    const res: any = await env.gql(OPEN, { id: `tower:${vm.id}`, mode: 'DIRECT' });
    env.sim.setVmStatus(vm.id, 'STOPPED');
    const ws = await mustOpen(res.data.openConsole.url);
    expect((await closed(ws)).code).toBe(CLOSE_CONSOLE_UNAVAILABLE);
  });

  it('a VM stopped while its console is open through the gateway: the browser gets 4002 upstream closed', async () => {
    env = await startTowerGateway();
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    const res: any = await env.gql(OPEN, { id: `tower:${vm.id}` });
    const ws = await mustOpen(res.data.openConsole.url);
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
    rfb.requestUpdate(false);
    await rfb.readUpdate();
    const ending = closed(ws);
    env.sim.setVmStatus(vm.id, 'STOPPED');
    expect(await ending).toEqual({ code: ConsoleCloseCode.UpstreamClosed, reason: 'upstream closed' });
  });

  it('an Abiquo VM powered off while its console is open (the gateway does its VNC password handshake): 4002', async () => {
    const { abiquo, farm } = await withAbiquo();
    const res: any = await env!.gql(OPEN, { id: 'abq:1/1' });
    expect(res.errors).toBeUndefined();
    const ws = await mustOpen(res.data.openConsole.url);
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws), { password: null });
    expect(rfb.serverInit.name).toBe('web-1');
    const ending = closed(ws);
    abiquo.setVmState(1, 1, 'OFF');
    expect(await ending).toEqual({ code: ConsoleCloseCode.UpstreamClosed, reason: 'upstream closed' });
    expect(farm.server('1/1')!.connectionCount).toBe(0);
  });

  it("past the gateway's status check, through a websockify token file: a powered-off Abiquo VM's console is closed by its host (4002), a running one's served", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgw-vm-state-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tokens');
    const { farm } = await withAbiquo({ console: { tokenFile: file } });
    const db1 = farm.locate('1/3')!; // OFF in the data set
    const batch = farm.locate('2/5')!; // PAUSED: its process and VNC server stay
    writeFileSync(file, `db1: ${db1.host}:${db1.port}\nbatch: ${batch.host}:${batch.port}\n`);
    const base = `${env!.gateway.url.replace('http', 'ws')}/websockify`;

    const off = await mustOpen(`${base}?token=db1`);
    expect(await closed(off)).toEqual({ code: ConsoleCloseCode.UpstreamClosed, reason: 'upstream closed' });
    const paused = await RfbTestClient.handshake(createWebSocketStream(await mustOpen(`${base}?token=batch`)));
    expect(paused.serverInit.name).toBe('acme-batch');
    paused.close();
  });
});
