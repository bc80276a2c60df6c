/**
 * Three gateway processes on one Redis and one Abiquo: one walks it (the leader), all three serve its
 * VMs and consoles; SIGKILL the leader and another takes over and walks again. Each replica reaches
 * Abiquo through its own counting proxy, so the simulator's traffic is attributed to a replica.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAbiquoData, startAbiquoSimulator, simVm, type AbiquoSimulator } from '../../src/simulators/abiquo/index.js';
import { ConsoleFarm } from '../../src/simulators/vnc/console-farm.js';
import { postGraphQL } from '../helpers/graphql.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { openConsole, rfbSecurityTypes, spawnGateway, type GatewayProcess } from '../observability/child.js';

/** Forwards everything to the simulator and counts VM-list requests and stream connections. */
interface CountingProxy {
  url: string;
  /** Requests of one enterprise's VMs: only a walk (or a refresh after an event) makes them. */
  vmLists: number;
  streams: number;
  openStreams: number;
  server: Server;
}

async function countingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const counts = { vmLists: 0, streams: 0, openStreams: 0 };
  let self = '';
  const server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    const isStream = path === '/m/stream';
    if (isStream) {
      counts.streams++;
      counts.openStreams++;
      res.once('close', () => counts.openStreams--);
    }
    // A walk reads every enterprise's VMs; a health check reads one enterprise of the list, never VMs.
    if (/^\/api\/admin\/enterprises\/\d+\/action\/virtualmachines$/.test(path)) counts.vmLists++;
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (isStream) {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
        return;
      }
      // Links name the simulator's origin; the gateway follows only its configured one (the proxy's).
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.from(Buffer.concat(chunks).toString('utf8').replaceAll(upstream.origin, self));
        const { 'transfer-encoding': _chunked, ...headers } = up.headers;
        res.writeHead(up.statusCode!, { ...headers, 'content-length': String(body.length) });
        res.end(body);
      });
    });
    out.on('error', () => res.destroy());
    res.once('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const proxy = { url: self, server } as CountingProxy;
  return Object.defineProperties(proxy, {
    vmLists: { get: () => counts.vmLists },
    streams: { get: () => counts.streams },
    openStreams: { get: () => counts.openStreams },
  });
}

/** Polls `check` (bounded): resolves with its first truthy answer. */
async function eventually<T>(what: string, check: () => Promise<T> | T, tries = 300): Promise<NonNullable<T>> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

const VMS = '{ vms(provider: "abq", first: 100) { nodes { id name } } }';

describe('Abiquo in a fleet of three', () => {
  let redis: RedisServer;
  let sim: AbiquoSimulator;
  const farm = new ConsoleFarm();
  const proxies: CountingProxy[] = [];
  const replicas: GatewayProcess[] = [];
  const urls: string[] = [];
  let dir: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    for (const e of defaultAbiquoData()) {
      for (const vm of e.vms) await farm.add(String(vm.id), { name: vm.label ?? vm.name, ...(vm.password ? { password: vm.password } : {}) });
    }
    sim = await startAbiquoSimulator({ consoleFor: (vm) => farm.locate(String(vm.id)) });
    dir = mkdtempSync(join(tmpdir(), 'cg-abiquo-fleet-'));
    const file = join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'info' },
        shutdown: { consoleGraceSeconds: 0 },
        redis: { url: redis.url },
        providers: [
          { name: 'abq', kind: 'abiquo', url: `${sim.url}/api`, username: 'admin', password: 'xabiquo', leader: { leaseTtlMs: 3_000, renewIntervalMs: 500 } },
        ],
      }),
    );
    for (let i = 0; i < 3; i++) {
      const proxy = await countingProxy(sim.url);
      proxies.push(proxy);
      // The provider's URL per replica, through the environment: the same config file for all three.
      const child = spawnGateway(['--config', file], { CONSOLE_GATEWAY_PROVIDER_ABQ_URL: `${proxy.url}/api` });
      replicas.push(child);
    }
    for (const child of replicas) urls.push((await child.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/))[1]!);
  }, 60_000);

  afterAll(async () => {
    for (const child of replicas) {
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill('SIGTERM');
        await child.exited;
      }
    }
    for (const p of proxies) p.server.closeAllConnections(), p.server.close();
    await sim?.close();
    await farm.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const leaderIndex = (): number => replicas.findIndex((c) => c.proc.exitCode === null && c.proc.signalCode === null && /abiquo leader: lease acquired/.test(c.output()));

  it('is walked and streamed by exactly one replica, and all three serve its VMs and consoles', async () => {
    const leader = await eventually('a leader', () => (leaderIndex() >= 0 ? leaderIndex() + 1 : 0)) - 1;
    for (const url of urls) {
      const names = await eventually(`vms on ${url}`, async () => {
        const r = await postGraphQL<{ vms: { nodes: Array<{ name: string }> } }>(url, VMS);
        return r.data?.vms.nodes.length === 8 ? r.data.vms.nodes.map((n) => n.name) : null;
      });
      expect(names).toContain('web-1');
    }
    await eventually('the leader stream', () => proxies[leader]!.openStreams === 1);
    const before = proxies.map((p) => p.vmLists);

    // Every replica answers again: only the index is read, Abiquo is not.
    for (const url of urls) expect((await postGraphQL<any>(url, VMS)).data.vms.nodes).toHaveLength(8);
    expect(proxies.map((p) => p.vmLists)).toEqual(before);
    proxies.forEach((p, i) => {
      expect(p.vmLists > 0, `replica ${i} walked`).toBe(i === leader);
      expect(p.streams, `replica ${i} streams`).toBe(i === leader ? 1 : 0);
    });
    expect(replicas.filter((c) => /lease acquired/.test(c.output()))).toHaveLength(1);

    // A console opened on a follower: the target (and the VNC password) comes from the shared index.
    const follower = urls[(leader + 1) % 3]!;
    const console = await openConsole(follower, 'abq:1/1');
    expect(await rfbSecurityTypes(console)).not.toHaveLength(0);
    console.ws.close();
  }, 60_000);

  it('after a SIGKILL of the leader, another replica takes the lease, walks again and reconnects the stream', async () => {
    const old = leaderIndex();
    expect(old).toBeGreaterThanOrEqual(0);
    const before = proxies.map((p) => ({ lists: p.vmLists, streams: p.streams }));
    replicas[old]!.proc.kill('SIGKILL');
    await replicas[old]!.exited;
    // Changed while nobody leads and without an event: only the successor's full walk can see it.
    sim.putVm(3, simVm(99, { label: 'added-while-leaderless' }));

    const next = await eventually('a new leader', () => {
      const i = replicas.findIndex((c, n) => n !== old && c.proc.exitCode === null && /abiquo leader: lease acquired/.test(c.output()));
      return i >= 0 ? i + 1 : 0;
    }) - 1;
    await eventually('the stream reconnected by the new leader', () => proxies[next]!.streams > before[next]!.streams && proxies[next]!.openStreams === 1);
    await eventually('a walk by the new leader', () => proxies[next]!.vmLists > before[next]!.lists);
    for (const [i, url] of urls.entries()) {
      if (i === old) continue;
      await eventually(`the resynced index on replica ${i}`, async () => {
        const r = await postGraphQL<{ vms: { nodes: Array<{ name: string }> } }>(url, VMS);
        return r.data?.vms.nodes.some((n) => n.name === 'added-while-leaderless');
      });
    }
    const third = [0, 1, 2].find((i) => i !== old && i !== next)!;
    expect(proxies[third]!.streams).toBe(before[third]!.streams);
  }, 60_000);
});
