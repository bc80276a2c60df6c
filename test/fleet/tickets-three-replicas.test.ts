/**
 * Three gateway processes (`src/main.ts --config`) on one real redis-server and one CloudTower
 * simulator: tickets, the minting budget and the console caps are the fleet's, not a process's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { DEFAULT_CLOUDTOWER_USER, defaultCloudTowerVms, startCloudTowerSimulator, type CloudTowerSimulator } from '../../src/simulators/cloudtower/index.js';
import { newKey } from '../auth/helpers.js';
import { graphqlPost } from '../helpers/graphql.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { openWs } from '../helpers/ws.js';
import { spawnGateway, type GatewayProcess } from '../observability/child.js';
import { eventually } from './store-helpers.js';

const KEY_PREFIX = 'fleet3:';
const LEASE_TTL_MS = 1_000;
const keys = { alice: newKey(), bob: newKey(), carol: newKey(), dave: newKey(), erin: newKey() };
const BURST = 6;

let redis: RedisServer;
let sim: CloudTowerSimulator;
let farm: ConsoleFarm;
let dir: string;
let observer: Redis;
const replicas: Array<GatewayProcess & { url: string }> = [];
const sockets = new Set<WebSocket>();
const vmId = `tower:${defaultCloudTowerVms()[0]!.id}`;

beforeAll(async () => {
  redis = await startRedisServer();
  farm = new ConsoleFarm();
  const vms = defaultCloudTowerVms();
  for (const vm of vms) await farm.add(vm.id, { name: vm.name });
  sim = await startCloudTowerSimulator({ consoleFor: (vm) => farm.locate(vm.id), vms });
  dir = mkdtempSync(join(tmpdir(), 'cg-fleet-'));
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    auth: { mode: 'apiKey', apiKeys: Object.entries(keys).map(([name, k]) => ({ name, hash: k.hash })) },
    limits: { ticketBurst: BURST, ticketsPerMinute: 1, maxConsoles: 3, maxConsolesPerCaller: 2 },
    redis: { url: redis.url, keyPrefix: KEY_PREFIX, leaseTtlMs: LEASE_TTL_MS },
    providers: [
      {
        name: 'tower',
        kind: 'cloudtower',
        url: sim.url,
        username: DEFAULT_CLOUDTOWER_USER.username,
        password: DEFAULT_CLOUDTOWER_USER.password,
        websockify: { cluster: { scheme: 'ws', port: sim.port }, tower: { scheme: 'ws', port: sim.port } },
      },
    ],
  };
  writeFileSync(join(dir, 'gateway.json'), JSON.stringify(config));
  const started = await Promise.all(
    ['a', 'b', 'c'].map(async () => {
      const child = spawnGateway(['--config', join(dir, 'gateway.json')]);
      const line = await child.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/);
      return Object.assign(child, { url: line[1]! });
    }),
  );
  replicas.push(...started);
  observer = new Redis(redis.url, { keyPrefix: KEY_PREFIX });
}, 60_000);

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
  observer?.disconnect();
  await sim?.close();
  await farm?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function mint(on: { url: string }, key: { key: string }): Promise<{ url?: string; code?: string; retryAfterSeconds?: number }> {
  const res = await graphqlPost(on.url, `{ consoleUrl(vmId: "${vmId}") }`, { headers: { 'x-api-key': key.key } });
  const err = res.body.errors?.[0] as { extensions?: { code?: string; retryAfterSeconds?: number } } | undefined;
  if (err) return { code: err.extensions?.code, retryAfterSeconds: err.extensions?.retryAfterSeconds };
  return { url: (res.body.data as { consoleUrl: string }).consoleUrl };
}

/** The same ticket URL, opened on another replica. */
function on(replica: { url: string }, ticketUrl: string): string {
  const u = new URL(ticketUrl);
  u.host = new URL(replica.url).host;
  return u.toString();
}

async function open(url: string): ReturnType<typeof openWs> {
  const r = await openWs(url);
  if (r.ok) sockets.add(r.ws);
  return r;
}

async function closeAll(): Promise<void> {
  await Promise.all([...sockets].map((ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : (ws.once('close', () => resolve()), ws.close())))));
  sockets.clear();
}

/** Consoles open across the fleet, as the replicas' live shares in Redis say. */
async function fleetConsoles(): Promise<number> {
  const now = Date.now();
  const live = await observer.zrangebyscore('caps:consoles:replicas', now, '+inf');
  let total = 0;
  for (const id of live) total += Number((await observer.hget(`caps:consoles:r:${id}`, '*')) ?? 0);
  return total;
}

describe('three replicas on one Redis', () => {
  it('a ticket minted on A opens a console on B, and its replay on C is refused with 403 TICKET_USED', async () => {
    const [a, b, c] = replicas;
    const minted = await mint(a!, keys.alice);
    expect(minted.url).toBeTruthy();
    const first = await open(on(b!, minted.url!));
    expect(first.ok).toBe(true);
    const replay = await open(on(c!, minted.url!));
    expect(replay).toMatchObject({ ok: false, status: 403, body: expect.stringContaining('TICKET_USED') });
    // Only the hash is in Redis, never the ticket.
    const ticket = new URL(minted.url!).searchParams.get('ticket')!;
    const stored = await observer.keys(`${KEY_PREFIX}ticket:*`);
    expect(stored.length).toBeGreaterThan(0);
    for (const k of stored) expect(k).not.toContain(ticket);
    for (const k of stored) expect(await observer.get(k.slice(KEY_PREFIX.length))).not.toContain(ticket);
    await closeAll();
  });

  it('two replicas redeeming one ticket at the same moment admit exactly one', async () => {
    const [a, b, c] = replicas;
    for (let i = 0; i < 5; i++) {
      const { url } = await mint(a!, keys.bob);
      const results = await Promise.all([open(on(b!, url!)), open(on(c!, url!))]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toMatchObject({ status: 403, body: expect.stringContaining('TICKET_USED') });
      await closeAll();
    }
  });

  it('shares the minting budget: minting alternately on A and B stops after one burst, with RATE_LIMITED', async () => {
    const [a, b] = replicas;
    const outcomes: Array<{ url?: string; code?: string; retryAfterSeconds?: number }> = [];
    for (let i = 0; i < BURST + 2; i++) outcomes.push(await mint(i % 2 === 0 ? a! : b!, keys.carol));
    expect(outcomes.filter((o) => o.url)).toHaveLength(BURST);
    expect(outcomes.slice(BURST)).toEqual([expect.objectContaining({ code: 'RATE_LIMITED' }), expect.objectContaining({ code: 'RATE_LIMITED' })]);
    expect(outcomes[BURST]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('counts console caps across the fleet, and frees a killed replica’s share when its lease expires', async () => {
    const [a, b, c] = replicas;
    await eventually('no console counted in the fleet', async () => (await fleetConsoles()) === 0);
    // maxConsolesPerCaller 2, across replicas.
    expect((await open(on(a!, (await mint(a!, keys.dave)).url!))).ok).toBe(true);
    expect((await open(on(b!, (await mint(a!, keys.dave)).url!))).ok).toBe(true);
    expect(await open(on(c!, (await mint(a!, keys.dave)).url!))).toMatchObject({ ok: false, status: 429, body: expect.stringContaining('CONSOLE_LIMIT_CALLER') });
    // maxConsoles 3, across replicas.
    expect((await open(on(c!, (await mint(c!, keys.erin)).url!))).ok).toBe(true);
    expect(await open(on(a!, (await mint(c!, keys.erin)).url!))).toMatchObject({ ok: false, status: 429, body: expect.stringContaining('CONSOLE_LIMIT_GLOBAL') });

    // C dies without a word: its console's count lives only until its lease runs out.
    c!.proc.kill('SIGKILL');
    await c!.exited;
    await eventually('the killed replica’s share expired', async () => (await fleetConsoles()) === 2, { timeoutMs: LEASE_TTL_MS * 5 });
    // A replica's early "full" check reads the fleet total as of its last renewal (a third of the lease
    // at most), and refuses before the ticket is spent: the same URL opens once A has seen the room.
    const retried = on(a!, (await mint(a!, keys.erin)).url!);
    await eventually('a console opens on A again', async () => {
      const r = await open(retried);
      if (!r.ok) expect(r).toMatchObject({ status: 429, body: expect.stringContaining('CONSOLE_LIMIT_GLOBAL') });
      return r.ok;
    }, { timeoutMs: LEASE_TTL_MS * 3 });
    await closeAll();
  });
});
