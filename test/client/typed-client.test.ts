import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import { EventsDocument, GatewayRequestError, ListVmsDocument, OpenConsoleDocument, createGatewayClient, type GatewayClient } from '../../src/client/index.js';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { mustOpen } from '../helpers/ws.js';
import { AUDIENCE, ISSUER, JWT_SECRET, hsToken, newKey } from '../auth/helpers.js';

let env: TowerGateway | undefined;
let client: GatewayClient | undefined;
afterEach(async () => {
  await client?.dispose();
  await env?.close();
  env = client = undefined;
});

const ops = newKey();

/** Resolves once the gateway's event bus has one more subscriber: the subscription is live. */
function nextSubscriber(t: TowerGateway): Promise<void> {
  return new Promise((resolve) => {
    const stop = t.gateway.gateway.events.onSubscribe(() => {
      stop();
      resolve();
    });
  });
}

describe('the typed client (src/client) against a running gateway', () => {
  it('lists VMs, opens a console and follows its events with an API key', async () => {
    env = await startTowerGateway({ config: { auth: { mode: 'apiKey', apiKeys: [{ name: 'ops', hash: ops.hash }] } } });
    client = createGatewayClient({ url: env.gateway.url, credentials: { apiKey: ops.key }, webSocketImpl: WebSocket, retryAttempts: 0 });

    const page = await client.request(ListVmsDocument, { first: 10 });
    const vm = page.vms.nodes.find((n) => n.name === 'web-01')!;
    expect(vm).toMatchObject({ status: 'RUNNING', provider: { name: 'tower', kind: 'CLOUDTOWER' } });
    expect(page.vms.pageInfo.hasNextPage).toBe(false);

    const subscribed = nextSubscriber(env);
    const events = client.subscribe(EventsDocument, { filter: { sources: ['GATEWAY'], pattern: 'consoles.opened.*' } });
    const first = events.next();
    await subscribed;

    const opened = await client.request(OpenConsoleDocument, { vmId: vm.id });
    expect(opened.openConsole?.mode).toBe('GATEWAY');
    const ws = await mustOpen(opened.openConsole!.url, { protocols: opened.openConsole!.protocols });
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
    expect(rfb.serverInit.name).toBe('web-01');

    const event = (await first).value!;
    expect(event.events).toMatchObject({ source: 'GATEWAY', type: 'consoles', action: 'opened', key: vm.id, principal: 'apikey:ops' });
    expect(typeof event.events.time).toBe('string');
    rfb.close();
    await events.return!();

    // Errors keep their code; partial data stays available through execute().
    const refused = await client.request(OpenConsoleDocument, { vmId: 'tower:doesnotexist0000000000' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayRequestError);
    expect((refused as GatewayRequestError).errors[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await client.execute(OpenConsoleDocument, { vmId: 'garbage' })).data).toEqual({ openConsole: null });
  });

  it('sends a bearer token on HTTP and in connectionParams, and reports a refused connection', async () => {
    env = await startTowerGateway({ config: { auth: { mode: 'jwt', jwt: { issuer: ISSUER, audience: AUDIENCE, secret: JWT_SECRET } } } });
    client = createGatewayClient({ url: env.gateway.url, credentials: { bearerToken: await hsToken({ sub: 'svc', providers: ['tower'] }) }, webSocketImpl: WebSocket, retryAttempts: 0 });
    expect((await client.request(ListVmsDocument, { first: 1 })).vms.nodes).toHaveLength(1);
    const subscribed = nextSubscriber(env);
    const events = client.subscribe(EventsDocument, {});
    const first = events.next();
    await subscribed;
    await events.return!();
    await expect(first).resolves.toMatchObject({ done: true });

    const anonymous = createGatewayClient({ url: env.gateway.url, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const refused = await anonymous.request(ListVmsDocument, {}).catch((e: unknown) => e);
      expect((refused as GatewayRequestError).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      await expect(anonymous.subscribe(EventsDocument, {}).next()).rejects.toBeDefined();
    } finally {
      await anonymous.dispose();
    }
  });
});

describe('the README "For internal consumers" snippet', () => {
  it('runs as written against a running gateway: lists, opens a console and follows it until closed', async () => {
    env = await startTowerGateway({ config: { auth: { mode: 'apiKey', apiKeys: [{ name: 'ops', hash: ops.hash }] } } });
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## For internal consumers'));
    const snippet = /```ts\n([\s\S]*?)```/.exec(section)![1]!.replace("'./src/client/index.js'", `'${join(process.cwd(), 'src/client/index.js')}'`)
      // Run from a temporary directory: resolve the snippet's one package import from this checkout.
      .replace("from 'ws'", `from '${createRequire(import.meta.url).resolve('ws')}'`);
    const dir = mkdtempSync(join(tmpdir(), 'cg-readme-client-'));
    const file = join(dir, 'example.mts');
    writeFileSync(file, snippet);
    const subscribed = nextSubscriber(env);
    const proc = spawn(join(process.cwd(), 'node_modules', '.bin', 'tsx'), [file], {
      cwd: process.cwd(),
      env: { ...process.env, GATEWAY_URL: env.gateway.url, GATEWAY_API_KEY: ops.key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        proc.stdout.on('data', () => out.includes('\n') && resolve(out.split('\n')[0]!));
        void exited.then((code) => reject(new Error(`snippet exited ${code}: ${err}`)));
      });
      const [name, url] = firstLine.split(' ');
      await subscribed;
      const ws = await mustOpen(url!, { protocols: ['binary'] });
      const rfb = await RfbTestClient.handshake(createWebSocketStream(ws));
      expect(rfb.serverInit.name).toBe(name);
      rfb.close();
      expect(await exited, err).toBe(0);
      const lines = out.trim().split('\n');
      expect(lines.slice(1).map((l) => l.split(' ').slice(1).join(' '))).toEqual([`consoles opened ${lines[1]!.split(' ')[3]}`, `consoles closed ${lines[1]!.split(' ')[3]}`]);
      expect(lines[1]!.split(' ')[3]).toMatch(/^tower:/);
    } finally {
      proc.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
