/**
 * The README's fleet on one machine: two `npm start` processes (the embedded default) on different
 * ports with CONSOLE_GATEWAY_REDIS_URL set share tickets. Each embedded default starts its own
 * simulators with the same VMs, so a ticket minted on one opens the console on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCloudTowerVms } from '../../src/simulators/cloudtower/index.js';
import { graphqlPost } from '../helpers/graphql.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { closed, openWs } from '../helpers/ws.js';
import { spawnGateway, type GatewayProcess } from '../observability/child.js';

let redis: RedisServer;
const replicas: Array<GatewayProcess & { url: string }> = [];

beforeAll(async () => {
  redis = await startRedisServer();
  for (let i = 0; i < 2; i++) {
    const child = spawnGateway([], { CONSOLE_GATEWAY_REDIS_URL: redis.url, CONSOLE_GATEWAY_PORT: '0', CONSOLE_GATEWAY_LOG_LEVEL: 'info' });
    replicas.push(Object.assign(child, { url: '' }));
  }
  for (const child of replicas) child.url = (await child.waitFor(/demo page\s+(http:\/\/127\.0\.0\.1:\d+)\//))[1]!;
}, 60_000);

afterAll(async () => {
  for (const child of replicas) {
    child.proc.kill('SIGTERM');
    await child.exited;
  }
  await redis?.stop();
});

describe('two embedded defaults on one Redis', () => {
  it('open on one replica the console of a ticket minted on the other, and refuse its replay', async () => {
    const [a, b] = replicas as [GatewayProcess & { url: string }, GatewayProcess & { url: string }];
    const vmId = `tower:${defaultCloudTowerVms()[0]!.id}`;
    const minted = await graphqlPost<{ openConsole: { url: string } | null }>(a.url, `mutation { openConsole(vmId: "${vmId}") { url } }`);
    const urlOnA = minted.body.data?.openConsole?.url;
    expect(urlOnA, JSON.stringify(minted.body.errors)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/websockify\?ticket=/);
    const urlOnB = urlOnA!.replace(new URL(a.url).host, new URL(b.url).host);

    const opened = await openWs(urlOnB);
    if (!opened.ok) throw new Error(`refused on B: ${opened.status} ${opened.body}`);
    const banner = await new Promise<string>((resolve) => opened.ws.once('message', (d: Buffer) => resolve(d.toString('latin1'))));
    expect(banner).toBe('RFB 003.008\n');
    const ended = closed(opened.ws);
    opened.ws.close();
    await ended;

    const replay = await openWs(urlOnA!);
    expect(replay.ok).toBe(false);
    if (!replay.ok) {
      expect(replay.status).toBe(403);
      expect(replay.body).toContain('TICKET_USED');
    }
  }, 30_000);
});
