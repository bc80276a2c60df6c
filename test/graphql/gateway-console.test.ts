import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import { createClient } from 'graphql-ws';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { roundTrip } from '../helpers/subscriptions.js';
import { mustOpen } from '../helpers/ws.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function consoleFor(t: TowerGateway, vmName: string): Promise<{ url: string; protocols: string[]; expiresAt: string; vmId: string }> {
  const vm = t.sim.listVms().find((v) => v.name === vmName)!;
  const res: any = await t.gql('query($id: ID!) { console(vmId: $id) { url mode protocols expiresAt } }', { id: `tower:${vm.id}` });
  expect(res.errors).toBeUndefined();
  expect(res.data.console.mode).toBe('GATEWAY');
  return { ...res.data.console, vmId: `tower:${vm.id}` };
}

describe('GATEWAY consoles: consoleUrl -> /websockify -> CloudTower websockify -> RFB', () => {
  it('returns a URL on the gateway that carries a live console of the right VM', async () => {
    env = await startTowerGateway();
    const access = await consoleFor(env, 'web-02');
    expect(access.url.startsWith(`${env.gateway.url.replace('http', 'ws')}/websockify?ticket=`)).toBe(true);
    expect(access.protocols).toEqual(['binary']);
    expect(Date.parse(access.expiresAt) - Date.now()).toBeGreaterThan(0);
    const ws = await mustOpen(access.url);
    expect(ws.protocol).toBe('binary');
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
    expect(rfb.serverInit.name).toBe('web-02');
    rfb.requestUpdate(false);
    await rfb.readUpdate();
    expect(rfb.coloursIn({ x: 0, y: 0, width: rfb.width, height: rfb.serverInit.height }).size).toBeGreaterThan(1);
    // The gateway dialled CloudTower's websockify itself, with credentials the browser never saw.
    expect(env.sim.websockifyConnections.at(-1)).toMatchObject({ uuid: env.sim.listVms().find((v) => v.name === 'web-02')!.local_id });
    rfb.close();
  });

  it('accepts the ticket as a subprotocol, keeping it out of the URL', async () => {
    env = await startTowerGateway();
    const access = await consoleFor(env, 'web-01');
    const ticket = new URL(access.url).searchParams.get('ticket')!;
    const bare = access.url.replace(/\?.*$/, '');
    const ws = await mustOpen(bare, { protocols: ['binary', `ticket.${ticket}`] });
    expect(ws.protocol).toBe('binary');
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
    expect(rfb.serverInit.name).toBe('web-01');
    rfb.close();
  });

  it('refuses a replayed ticket before accepting the WebSocket, and never logs the ticket', async () => {
    env = await startTowerGateway();
    const access = await consoleFor(env, 'web-01');
    const first = await mustOpen(access.url);
    first.close();
    await expect(mustOpen(access.url)).rejects.toThrow(/refused: 403/);
    await expect(mustOpen(access.url.replace(/ticket=.*/, 'ticket=forged-ticket-value-000000000000000000000000'))).rejects.toThrow(/refused: 401/);
    const ticket = new URL(access.url).searchParams.get('ticket')!;
    expect(env.logs.text()).not.toContain(ticket);
  });

  it('publishes console opened/closed events on the event stream', async () => {
    env = await startTowerGateway();
    const client = createClient({ url: `${env.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const events: any[] = [];
      let seen!: () => void;
      const two = new Promise<void>((resolve) => (seen = resolve));
      client.subscribe(
        { query: 'subscription { events(filter: { sources: [GATEWAY], pattern: "consoles.*.*" }) { type action key principal } }' },
        { next: (v) => { events.push(v.data!.events); if (events.length === 2) seen(); }, error: () => undefined, complete: () => undefined },
      );
      await roundTrip(client);
      const access = await consoleFor(env, 'db-primary');
      const ws = await mustOpen(access.url);
      const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
      rfb.close();
      await two;
      expect(events).toEqual([
        { type: 'consoles', action: 'opened', key: access.vmId, principal: 'anonymous' },
        { type: 'consoles', action: 'closed', key: access.vmId, principal: 'anonymous' },
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('serves a configured websockify token file at /websockify?token= (TokenFile drop-in)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-tokens-'));
    const file = join(dir, 'tokens');
    // The console is found after the gateway starts, so the file is written once its VM consoles exist.
    writeFileSync(file, '# nothing yet\n');
    env = await startTowerGateway({ config: { console: { tokenFile: file } } });
    const vm = env.sim.listVms().find((v) => v.name === 'db-primary')!;
    const target = env.consoles.locate(vm.id)!;
    writeFileSync(file, `# websockify token file\ndb: ${target.host}:${target.port}\n`);
    const ws = await mustOpen(`${env.gateway.url.replace('http', 'ws')}/websockify?token=db`);
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
    expect(rfb.serverInit.name).toBe('db-primary');
    rfb.close();
    await expect(mustOpen(`${env.gateway.url.replace('http', 'ws')}/websockify?token=nope`)).rejects.toThrow(/refused: 401/);
  });

  it('builds console URLs from server.publicUrl behind a load balancer', async () => {
    env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0, publicUrl: 'https://consoles.example/gw/' } } });
    const access = await consoleFor(env, 'web-01');
    expect(access.url).toMatch(/^wss:\/\/consoles\.example\/gw\/websockify\?ticket=[A-Za-z0-9_-]{43}$/);
  });

  it('does not mint a ticket for a VM that does not exist', async () => {
    env = await startTowerGateway();
    const res = await env.gql('{ consoleUrl(vmId: "tower:doesnotexist0000000000") }');
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
