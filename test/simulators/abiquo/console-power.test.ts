/**
 * The Abiquo simulator's consoles follow the VMs' power, as on a real host: the VNC server at a VM's
 * vdrpIP:vdrpPort lives in the VM's hypervisor process. Driven past the gateway, straight at the
 * addresses the simulator's REST API advertises.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleFarm } from '../../../src/simulators/vnc/index.js';
import { defaultAbiquoData, farmConsoles, startAbiquoSimulator, type AbiquoSimulator } from '../../../src/simulators/abiquo/index.js';
import { RfbTestClient, StreamReader, connectTcp } from '../../rfb/rfb-test-client.js';
import { useCleanups } from '../../helpers/cleanups.js';

const cleanups = useCleanups();

/** The default data set with a farm console per VM that has an address, powered by the simulator. */
async function start(): Promise<{ sim: AbiquoSimulator; farm: ConsoleFarm }> {
  const farm = new ConsoleFarm();
  cleanups.add(() => farm.close());
  const data = defaultAbiquoData();
  const sim = await startAbiquoSimulator({ data, ...(await farmConsoles(data, farm)) });
  cleanups.add(() => sim.close());
  return { sim, farm };
}

/** The VMs of enterprise `ent` as the REST API serves them: label, state, vdrp address. */
async function advertised(sim: AbiquoSimulator, ent: number): Promise<Map<string, { state: string; vdrpIP?: string; vdrpPort?: number; password?: string }>> {
  const res = await fetch(`${sim.apiUrl}/admin/enterprises/${ent}/action/virtualmachines?limit=0`, {
    headers: { authorization: `Basic ${Buffer.from('admin:xabiquo').toString('base64')}`, accept: 'application/vnd.abiquo.virtualmachines+json' },
  });
  const body = (await res.json()) as { collection: Array<{ label: string; state: string; vdrpIP?: string; vdrpPort?: number; password?: string }> };
  return new Map(body.collection.map((vm) => [vm.label, vm]));
}

/** Connects to a console and reports what its first bytes were: the RFB banner, or a close with none. */
async function firstWords(port: number): Promise<string> {
  const socket = await connectTcp(port);
  cleanups.add(() => void socket.destroy());
  const reader = new StreamReader(socket);
  try {
    return (await reader.read(12)).toString('latin1');
  } catch {
    expect(reader.buffered).toBe(0);
    return 'closed without a byte';
  }
}

async function rfb(port: number, password?: string): Promise<RfbTestClient> {
  const client = await RfbTestClient.connect(port, { password: password ?? null });
  cleanups.add(() => void client.stream.destroy());
  return client;
}

describe('Abiquo simulator: consoles follow the VM state', () => {
  it('serves a running, paused or locked VM; a powered-off VM or a disabled remote desktop closes the connection before the RFB banner', async () => {
    const { sim } = await start();
    const abiquo = await advertised(sim, 1);
    const acme = await advertised(sim, 2);
    const globex = await advertised(sim, 3);
    const cases: Array<[string, { state: string; vdrpPort?: number } | undefined, string]> = [
      ['web-1', abiquo.get('web-1'), 'RFB 003.008\n'],
      ['db-1', abiquo.get('db-1'), 'closed without a byte'],
      ['acme-batch', acme.get('acme-batch'), 'RFB 003.008\n'],
      ['acme-novnc', acme.get('acme-novnc'), 'closed without a byte'],
      ['globex-1', globex.get('globex-1'), 'RFB 003.008\n'],
    ];
    expect(cases.map(([label, vm]) => [label, vm?.state])).toEqual([
      ['web-1', 'ON'],
      ['db-1', 'OFF'],
      ['acme-batch', 'PAUSED'],
      ['acme-novnc', 'ON'],
      ['globex-1', 'LOCKED'],
    ]);
    for (const [label, vm, expected] of cases) expect([label, await firstWords(vm!.vdrpPort!)]).toEqual([label, expected]);
    // Never deployed: no address at all.
    expect(acme.get('acme-new')?.vdrpPort).toBeUndefined();
  });

  it('powering a VM off drops its open console and refuses new ones; powering it on serves it again on the same port', async () => {
    const { sim, farm } = await start();
    const web1 = (await advertised(sim, 1)).get('web-1')!;
    const user = await rfb(web1.vdrpPort!, web1.password);
    expect(user.serverInit.name).toBe('web-1');
    const other = await rfb((await advertised(sim, 1)).get('web-2')!.vdrpPort!, 'vncpass2');

    sim.setVmState(1, 1, 'OFF');
    await user.reader.closed;
    expect(await firstWords(web1.vdrpPort!)).toBe('closed without a byte');
    expect(farm.server('1/1')!.connectionCount).toBe(0);
    // Another VM's console is untouched.
    other.requestUpdate(false);
    expect((await other.readUpdate()).length).toBeGreaterThan(0);

    sim.setVmState(1, 1, 'ON');
    const again = (await advertised(sim, 1)).get('web-1')!;
    expect(again.vdrpPort).toBe(web1.vdrpPort);
    expect((await rfb(again.vdrpPort!, web1.password)).serverInit.name).toBe('web-1');
  });

  it('undeploying or removing a VM ends its console; deploying one over a powered-off VM brings it back', async () => {
    const { sim } = await start();
    const vms = await advertised(sim, 2);
    const app = await rfb(vms.get('acme-app')!.vdrpPort!, 'acme-vnc');
    const batch = await rfb(vms.get('acme-batch')!.vdrpPort!);
    sim.undeployVm(2, 4);
    sim.removeVm(2, 5);
    await Promise.all([app.reader.closed, batch.reader.closed]);
    expect(await firstWords(vms.get('acme-app')!.vdrpPort!)).toBe('closed without a byte');

    const db1 = (await advertised(sim, 1)).get('db-1')!;
    expect(await firstWords(db1.vdrpPort!)).toBe('closed without a byte');
    sim.deployVm(1, { ...sim.snapshot()[0]!.vms.find((v) => v.id === 3)! });
    expect(await firstWords(db1.vdrpPort!)).toBe('RFB 003.008\n');
  });
});
