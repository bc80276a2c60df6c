import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream } from 'ws';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { mustOpen } from '../helpers/ws.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** A VM whose `vnc` answer reports `cluster_ip` as host:port (the simulator's own websockify). */
async function vmWithPortedClusterIp(): Promise<{ env: TowerGateway; vmId: string }> {
  // The configured cluster port is one nothing listens on: only the port in cluster_ip can work.
  const started = await startTowerGateway({ provider: { websockify: { cluster: { scheme: 'ws', port: 9 }, tower: { scheme: 'ws', port: 9 } } } });
  const vm = started.sim.addVm({ name: 'ported-01', vnc: { cluster_ip: `127.0.0.1:${started.sim.port}` } });
  await started.consoles.add(vm.id, { name: 'ported-01' });
  return { env: started, vmId: `tower:${vm.id}` };
}

describe('CloudTower cluster_ip with a port', () => {
  it('hands out a valid DIRECT URL on that host and port', async () => {
    const ported = await vmWithPortedClusterIp();
    env = ported.env;
    const res: any = await env.gql('query($id: ID!) { consoleUrl(vmId: $id, mode: DIRECT) }', { id: ported.vmId });
    expect(res.errors).toBeUndefined();
    const url = new URL(res.data.consoleUrl);
    expect(url.host).toBe(`127.0.0.1:${env.sim.port}`);
    expect(res.data.consoleUrl).not.toContain('[');
    expect(url.pathname).toBe('/websockify/');
    expect(url.searchParams.get('uuid')).toBe(env.sim.listVms().find((v) => v.name === 'ported-01')!.local_id);
  });

  it('opens a GATEWAY console through the websockify at that host and port', async () => {
    const ported = await vmWithPortedClusterIp();
    env = ported.env;
    const res: any = await env.gql('mutation($id: ID!) { openConsole(vmId: $id, mode: GATEWAY) { url } }', { id: ported.vmId });
    expect(res.errors).toBeUndefined();
    const rfb = await RfbTestClient.handshake(createWebSocketStream(await mustOpen(res.data.openConsole.url)));
    expect(rfb.serverInit.name).toBe('ported-01');
    rfb.close();
  });
});
