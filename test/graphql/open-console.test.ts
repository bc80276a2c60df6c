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

const OPEN = 'mutation($id: ID!) { openConsole(vmId: $id) { url mode protocols expiresAt } }';

describe('openConsole mutation and nullable console root fields', () => {
  it('mints a fresh ticket on every call, and each opens a console', async () => {
    env = await startTowerGateway();
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res: any = await env.gql(OPEN, { id: `tower:${vm.id}` });
      expect(res.errors).toBeUndefined();
      expect(res.data.openConsole.mode).toBe('GATEWAY');
      urls.push(res.data.openConsole.url);
    }
    expect(urls[0]).not.toBe(urls[1]);
    for (const url of urls) {
      const rfb = await RfbTestClient.handshake(createWebSocketStream(await mustOpen(url)));
      expect(rfb.serverInit.name).toBe('web-01');
      rfb.close();
    }
  });

  it('answers null with a coded error for a bad VM id, keeping the rest of the response', async () => {
    env = await startTowerGateway();
    const res: any = await env.gql(
      'query($id: ID!) { vms(first: 2) { nodes { id } } consoleUrl(vmId: $id) console(vmId: $id) { url } vm(id: $id) { id } }',
      { id: 'tower:doesnotexist0000000000' },
    );
    expect(res.data.vms.nodes).toHaveLength(2);
    expect(res.data.consoleUrl).toBeNull();
    expect(res.data.console).toBeNull();
    expect(res.data.vm).toBeNull();
    expect(res.errors.map((e: any) => [e.path[0], e.extensions.code]).sort()).toEqual([
      ['console', 'NOT_FOUND'],
      ['consoleUrl', 'NOT_FOUND'],
      ['vm', 'NOT_FOUND'],
    ]);
    const mutation: any = await env.gql(OPEN, { id: 'garbage' });
    expect(mutation.data).toEqual({ openConsole: null });
    expect(mutation.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});
