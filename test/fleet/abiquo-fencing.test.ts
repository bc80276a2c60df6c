/**
 * A leader whose lease was taken stops at once: its next index write is refused by the fencing token,
 * and it closes its event stream, stops walking and leaves the token file alone. Driven in one process
 * against a real redis-server and the Abiquo simulator; the lease is taken from under it by writing
 * another holder into Redis, as a successor would after the leader stalled past its TTL.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/app.js';
import { validateConfig } from '../../src/config.js';
import { abiquoIndexKey, abiquoLeaseKey } from '../../src/fleet/abiquo-index.js';
import { startAbiquoSimulator, type AbiquoSimulator } from '../../src/simulators/abiquo/index.js';
import type { AbiquoProvider } from '../../src/upstreams/abiquo/provider.js';
import { postGraphQL } from '../helpers/graphql.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

async function eventually<T>(what: string, check: () => Promise<T> | T): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

describe('a deposed Abiquo leader', () => {
  let redis: RedisServer;
  let raw: Redis;
  let sim: AbiquoSimulator;
  let gw: RunningGateway;
  let dir: string;
  const log = captureLogger('info');

  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url, { keyPrefix: 'fence:', lazyConnect: true });
    await raw.connect();
    sim = await startAbiquoSimulator();
    dir = mkdtempSync(join(tmpdir(), 'cg-fence-'));
    const config = validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      redis: { url: redis.url, keyPrefix: 'fence:' },
      providers: [
        {
          name: 'abq',
          kind: 'abiquo',
          url: `${sim.url}/api`,
          username: 'admin',
          password: 'xabiquo',
          tokenFile: { path: join(dir, 'tokens') },
          // Renewal far off: the refused write, not the renewal, is what notices the lease is gone.
          leader: { leaseTtlMs: 60_000, renewIntervalMs: 30_000 },
        },
      ],
    });
    gw = await startGateway(config, { logger: log.logger, replicaId: 'replica-a' });
  });
  afterAll(async () => {
    await gw?.close();
    raw?.disconnect();
    await sim?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has its write refused by the fencing token, then stops its stream, its walk and its token file', async () => {
    const provider = gw.gateway.providers.get('abq') as AbiquoProvider;
    // The token file is written after the index is published (atomic rename): wait for both.
    await eventually('leading with the index and the token file published', () => provider.cacheState().fleet?.index !== null && sim.stats().openStreams === 1 && existsSync(join(dir, 'tokens')));
    expect((await postGraphQL<any>(gw.url, '{ vms(provider: "abq", first: 100) { nodes { name } } }')).data.vms.nodes).toHaveLength(8);
    const version = await raw.hget(abiquoIndexKey('abq'), 'version');
    const tokens = readFileSync(join(dir, 'tokens'), 'utf8');

    // A successor holds the lease now (with a later fencing token).
    await raw.set(abiquoLeaseKey('abq'), 'replica-b#99', 'PX', 60_000);
    sim.resetStats();
    sim.deployVm(1, { id: 42, label: 'deployed-after-the-takeover' });

    await eventually('the stream closed', () => sim.stats().openStreams === 0);
    expect(log.text()).toContain('the index write was refused by the fencing token');
    expect(log.text()).toContain('abiquo leader: lease lost');
    expect(provider.cacheState().fleet?.role).toBe('follower');
    // The refused write is the event's refresh or the event's own bookkeeping, whichever came first:
    // at most the one refresh reached Abiquo, and nothing after the step-down.
    const listsBeforeStepDown = sim.stats().vmListRequests;
    expect(listsBeforeStepDown).toBeLessThanOrEqual(1);
    // Nothing of the refused change left the process.
    expect(await raw.hget(abiquoIndexKey('abq'), 'version')).toBe(version);
    expect(readFileSync(join(dir, 'tokens'), 'utf8')).toBe(tokens);
    // It now serves the shared index (where the new VM is not, until the successor publishes it) and reads nothing from Abiquo.
    const names = (await postGraphQL<any>(gw.url, '{ vms(provider: "abq", first: 100) { nodes { name } } }')).data.vms.nodes.map((n: { name: string }) => n.name);
    expect(names).not.toContain('deployed-after-the-takeover');
    expect(sim.stats().vmListRequests).toBe(listsBeforeStepDown);
  });
});
