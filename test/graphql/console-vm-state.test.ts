import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream } from 'ws';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { CLOSE_CONSOLE_UNAVAILABLE } from '../../src/simulators/cloudtower/index.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

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
});
