import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { firstVmId, openConsole, openSubscription, rfbSecurityTypes, spawnGateway, type GatewayProcess } from './child.js';

let child: GatewayProcess | undefined;
let env: TowerGateway | undefined;
afterEach(async () => {
  if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
  child = undefined;
  await env?.close();
  env = undefined;
});

describe('SIGTERM', () => {
  it('closes graphql-ws clients and, after the grace period, consoles with 1001, and exits 0', async () => {
    child = spawnGateway([], { CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LOG_LEVEL: 'warn', CONSOLE_GATEWAY_SHUTDOWN_CONSOLE_GRACE_SECONDS: '2' });
    const url = (await child.waitFor(/GraphQL\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql[\s\S]*Try:/))[1]!;
    const towerConsole = await openConsole(url, await firstVmId(url, 'tower'));
    const abiquoConsole = await openConsole(url, await firstVmId(url, 'abiquo'));
    const events = await openSubscription(url, 'subscription { events { id type action key } }');
    const moreEvents = await openSubscription(url, 'subscription { events(filter: { sources: [GATEWAY] }) { id } }');

    child.proc.kill('SIGTERM');
    expect(await events.closed).toMatchObject({ code: 1001 });
    expect(await moreEvents.closed).toMatchObject({ code: 1001 });
    // The grace period: graphql-ws is gone, but the consoles still carry bytes.
    expect(await rfbSecurityTypes(towerConsole)).not.toHaveLength(0);
    expect(await rfbSecurityTypes(abiquoConsole)).not.toHaveLength(0);
    // New connections are no longer accepted.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    expect(await towerConsole.closed).toMatchObject({ code: 1001 });
    expect(await abiquoConsole.closed).toMatchObject({ code: 1001 });
    expect(await child.exited).toBe(0);
  }, 60_000);

  it('exits 0 on SIGINT with nothing open', async () => {
    child = spawnGateway([], { CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LOG_LEVEL: 'warn' });
    await child.waitFor(/Try:/);
    child.proc.kill('SIGINT');
    expect(await child.exited).toBe(0);
  }, 60_000);
});

describe('RunningGateway.shutdown', () => {
  it('answers /readyz with 503 on a connection already open, and ends as soon as the last console leaves', async () => {
    env = await startTowerGateway();
    const { url } = env.gateway;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const console1 = await openConsole(url, await firstVmId(url, 'tower'));

    // A request whose headers are still arriving when the shutdown starts: it is served, with 503.
    const socket = connect(env.gateway.http.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /readyz HTTP/1.1\r\nHost: gw\r\n');
    await new Promise<void>((resolve) => socket.write('Connection: close\r\n', () => resolve()));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));

    let finished = false;
    // An hour of grace: the shutdown must end because the console left, not because a timer fired.
    const stopping = env.gateway.shutdown({ consoleGraceMs: 3_600_000 }).then(() => (finished = true));
    socket.write('\r\n');
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 503/);
    expect(answer).toContain('shutting down');

    expect(await rfbSecurityTypes(console1)).not.toHaveLength(0);
    expect(finished).toBe(false);
    console1.ws.close(1000);
    await stopping;
    expect(await console1.closed).toMatchObject({ code: 1000 });
  });
});
