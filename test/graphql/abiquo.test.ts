import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { createHash } from 'node:crypto';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { defaultAbiquoData, startAbiquoSimulator, type AbiquoSimulator } from '../../src/simulators/abiquo/index.js';
import type { AbiquoProvider } from '../../src/upstreams/abiquo/provider.js';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { roundTrip } from '../helpers/subscriptions.js';
import { mustOpen } from '../helpers/ws.js';

let env: TowerGateway | undefined;
let abiquo: AbiquoSimulator | undefined;
let farm: ConsoleFarm | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.dispose();
  await env?.close();
  await abiquo?.close();
  await farm?.close();
  env = abiquo = farm = client = undefined;
});

async function abiquoGateway(provider: Record<string, unknown> = {}): Promise<void> {
  farm = new ConsoleFarm();
  const data = defaultAbiquoData();
  for (const ent of data) for (const vm of ent.vms) if (vm.vdrpIP) await farm.add(`${ent.id}/${vm.id}`, { name: vm.label ?? vm.name, ...(vm.password ? { password: vm.password } : {}) });
  abiquo = await startAbiquoSimulator({ data, consoleFor: (vm, ent) => farm!.locate(`${ent}/${vm.id}`) });
  env = await startTowerGateway({ extraProviders: [{ name: 'abq', kind: 'abiquo', url: abiquo.url, username: 'admin', password: 'xabiquo', ...provider }] });
}

function provider(): AbiquoProvider {
  return env!.gateway.gateway.providers.get('abq') as AbiquoProvider;
}

/** Resolves on the provider's next cache update matching `kind`. */
function nextUpdate(kind: 'walk' | 'enterprise' | 'enterprise-list'): Promise<void> {
  return new Promise((resolve) => {
    const stop = provider().onUpdate((u) => {
      if (u.kind === kind) {
        stop();
        resolve();
      }
    });
  });
}

/** The token file for the simulator's VM set as its REST API shows it (live consoles replace vdrp addresses). */
function expectedTokenFile(sim: AbiquoSimulator): string {
  const lines = sim
    .snapshot()
    .flatMap((e) => e.vms.map((vm) => ({ vm, live: farm!.locate(`${e.id}/${vm.id}`) })))
    .filter(({ vm }) => vm.vdrpEnabled && vm.vdrpIP && vm.vdrpPort)
    .map(({ vm, live }) => (live ? `${live.host}:${live.port}` : `${vm.vdrpIP}:${vm.vdrpPort}`))
    .map((t) => `${createHash('md5').update(t).digest('hex')}: ${t}`)
    .sort();
  return lines.map((l) => `${l}\n`).join('');
}

describe('Abiquo through the gateway', () => {
  it('lists Abiquo VMs beside CloudTower ones, normalised, with enterprises', async () => {
    await abiquoGateway();
    const res: any = await env!.gql('{ vms(provider: "abq", first: 100) { nodes { id name label status rawStatus enterprise { id upstreamId name } memoryBytes vcpu provider { kind } } } }');
    expect(res.errors).toBeUndefined();
    const nodes = res.data.vms.nodes;
    expect(nodes).toHaveLength(8);
    expect(nodes.find((n: any) => n.id === 'abq:1/3')).toMatchObject({ name: 'db-1', status: 'STOPPED', rawStatus: 'OFF', enterprise: { upstreamId: '1' }, memoryBytes: 4096 * 1048576, provider: { kind: 'ABIQUO' } });
    expect(nodes.find((n: any) => n.id === 'abq:2/7')).toMatchObject({ status: 'NOT_DEPLOYED', rawStatus: 'NOT_ALLOCATED' });
    const all: any = await env!.gql('{ vms(first: 100) { nodes { provider { name } } } }');
    expect(new Set(all.data.vms.nodes.map((n: any) => n.provider.name))).toEqual(new Set(['tower', 'abq']));
  });

  it('opens a password-protected console through the gateway with no password on the client side', async () => {
    await abiquoGateway();
    const res: any = await env!.gql('{ console(vmId: "abq:1/1") { url protocols } }');
    const ws = await mustOpen(res.data.console.url, { protocols: res.data.console.protocols });
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws), { password: null });
    expect(rfb.serverInit.name).toBe('web-1');
    rfb.requestUpdate(false);
    await rfb.readUpdate();
    expect(farm!.server('1/1')!.connectionCount).toBe(1);
    rfb.close();
    expect(JSON.stringify(res) + env!.logs.text()).not.toContain('vncpass1');
  });

  it('answers CONSOLE_UNAVAILABLE for a VM with the remote desktop disabled or no address, before minting', async () => {
    await abiquoGateway();
    for (const id of ['abq:2/6', 'abq:2/7']) {
      const res = await env!.gql(`{ consoleUrl(vmId: "${id}") }`);
      expect(res.errors?.[0]?.extensions?.code, id).toBe('CONSOLE_UNAVAILABLE');
    }
    expect((await env!.gql('{ consoleUrl(vmId: "abq:1/99") }')).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await env!.gql('{ consoleUrl(vmId: "abq:nonsense") }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('mints no ticket for a powered-off or undeployed VM: CONSOLE_UNAVAILABLE with its status', async () => {
    await abiquoGateway();
    const cases = [
      ['abq:1/3', 'STOPPED', 'OFF'],
      ['abq:2/7', 'NOT_DEPLOYED', 'NOT_ALLOCATED'],
    ] as const;
    for (const [id, status, rawStatus] of cases) {
      const res: any = await env!.gql('mutation($id: ID!) { openConsole(vmId: $id) { url } }', { id });
      expect(res.data, id).toEqual({ openConsole: null });
      expect(res.errors[0].extensions, id).toMatchObject({ code: 'CONSOLE_UNAVAILABLE', status, rawStatus });
    }
  });

  it('shows a deployed VM in vms, in the token file and as an event', async () => {
    await abiquoGateway();
    client = createClient({ url: `${env!.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const events: any[] = [];
    let gotFinish!: () => void;
    const finished = new Promise<void>((r) => (gotFinish = r));
    client.subscribe(
      { query: 'subscription { events(filter: { sources: [ABIQUO] }) { source provider type action key } }' },
      {
        next: (v) => {
          events.push(v.data!.events);
          if ((v.data!.events as any).action === 'DEPLOY_FINISH') gotFinish();
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    await roundTrip(client!);
    await env!.gql('{ vms(provider: "abq") { nodes { id } } }'); // cache loaded
    await abiquo!.waitForStreams(1);
    const refreshed = nextUpdate('enterprise');
    abiquo!.deployVm(3, { id: 42, label: 'fresh-vm', vdcId: 3, vappId: 5 });
    await finished;
    await refreshed;
    expect(events.map((e) => [e.source, e.provider, e.action, e.key])).toEqual([
      ['ABIQUO', 'abq', 'DEPLOY', 'abq:3/42'],
      ['ABIQUO', 'abq', 'DEPLOY_FINISH', 'abq:3/42'],
    ]);
    const res: any = await env!.gql('{ vm(id: "abq:3/42") { name status } websockifyTokenFile(provider: "abq") }');
    expect(res.data.vm).toEqual({ name: 'fresh-vm', status: 'RUNNING' });
    expect(res.data.websockifyTokenFile).toBe(expectedTokenFile(abiquo!));
    expect(res.data.websockifyTokenFile).toContain(`127.0.0.1:${5900 + 42}`);
  });

  it('reports one failing enterprise beside the others’ VMs', async () => {
    await abiquoGateway();
    abiquo!.setFault(2, 'error');
    const res: any = await env!.gql('{ vms(provider: "abq", first: 100) { nodes { id } } }');
    const ids = res.data.vms.nodes.map((n: any) => n.id);
    expect(ids).toContain('abq:1/1');
    expect(ids).toContain('abq:3/8');
    expect(ids.some((id: string) => id.startsWith('abq:2/'))).toBe(false);
    expect(res.errors).toEqual([expect.objectContaining({ message: expect.stringContaining('enterprise 2'), extensions: expect.objectContaining({ code: 'UPSTREAM_ERROR', provider: 'abq', enterpriseId: 2 }) })]);
  });

  it('reports refused credentials as UPSTREAM_AUTH_FAILED and a wrong provider for the token file as BAD_USER_INPUT', async () => {
    await abiquoGateway({ password: 'not-the-password' });
    const res = await env!.gql('{ vms(provider: "abq") { nodes { id } } }');
    expect(res.errors?.[0]?.extensions?.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(JSON.stringify(res)).not.toContain('not-the-password');
    expect((await env!.gql('{ websockifyTokenFile(provider: "tower") }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
