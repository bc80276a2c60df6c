/**
 * A gateway whose Redis hangs (SIGSTOP), dies (SIGKILL) and comes back empty: minting answers
 * STORE_UNAVAILABLE, an open console keeps running, readiness follows Redis, recovery needs no
 * restart, tickets lost with Redis are refused cleanly, and each transition is logged once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { openWs } from '../helpers/ws.js';
import { firstVmId, openConsole, rfbSecurityTypes } from '../observability/child.js';
import { eventually } from './store-helpers.js';

let redis: RedisServer;
let env: TowerGateway;

beforeAll(async () => {
  redis = await startRedisServer();
  env = await startTowerGateway({ config: { redis: { url: redis.url, commandTimeoutMs: 300, healthCheckIntervalMs: 100 } } });
});
afterAll(async () => {
  await env?.close();
  await redis?.stop();
});

async function mint(vmId: string): Promise<{ url?: string; code?: string }> {
  const res = await env.gql<{ consoleUrl: string }>('query($id: ID!) { consoleUrl(vmId: $id) }', { id: vmId });
  const code = res.errors?.[0]?.extensions?.code;
  return code ? { code } : { url: res.data!.consoleUrl };
}

async function readiness(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${env.gateway.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function count(message: string): number {
  return env.logs.records().filter((r) => r.msg === message).length;
}

describe('Redis faults', () => {
  it('hung, killed, restarted empty: consoles keep running, minting and readiness follow Redis, each transition logged once', async () => {
    const url = env.gateway.url;
    const vmId = await firstVmId(url, 'tower');
    const console1 = await openConsole(url, vmId);
    expect((await readiness()).status).toBe(200);

    // Hung: the socket stays open, nothing answers.
    redis.pause();
    await eventually('readiness 503 while Redis hangs', async () => (await readiness()).status === 503);
    expect((await readiness()).body).toEqual({ status: 'not ready', reason: 'STORE_UNAVAILABLE' });
    for (let i = 0; i < 3; i++) expect(await mint(vmId)).toEqual({ code: 'STORE_UNAVAILABLE' });
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^fleet_store_up 0$/m);
    expect(await rfbSecurityTypes(console1)).not.toHaveLength(0);
    redis.resume();
    await eventually('ready again once Redis answers', async () => (await readiness()).status === 200);
    const inFlight = (await mint(vmId)).url!;
    expect(inFlight).toBeTruthy();

    // Killed: the connection is gone; redemption is refused as such, not as an internal error.
    await redis.kill();
    await eventually('readiness 503 while Redis is down', async () => (await readiness()).status === 503);
    for (let i = 0; i < 3; i++) expect(await mint(vmId)).toEqual({ code: 'STORE_UNAVAILABLE' });
    expect(await openWs(inFlight)).toMatchObject({ ok: false, status: 503, body: expect.stringContaining('STORE_UNAVAILABLE') });
    console1.ws.send(Buffer.from([1])); // still writable: the session did not depend on Redis

    // Back, with its data lost: the ticket minted before is unknown now; new ones work, without a restart.
    await redis.restart();
    await eventually('ready again after the restart', async () => (await readiness()).status === 200);
    expect(await openWs(inFlight)).toMatchObject({ ok: false, status: 401, body: expect.stringContaining('TICKET_UNKNOWN') });
    const console2 = await openConsole(url, vmId);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^fleet_store_up 1$/m);
    expect(console1.ws.readyState).toBe(console1.ws.OPEN);

    // Once per transition, not once per request.
    expect(count('redis not answering (connection open)')).toBe(1);
    expect(count('redis answering again')).toBe(1);
    expect(count('redis connection lost')).toBe(1);
    expect(count('redis connected')).toBe(2);
    console1.ws.terminate();
    console2.ws.terminate();
  }, 30_000);
});
