/**
 * Fleet benchmark (issue 12), side by side in one run, against a real redis-server on a loopback port:
 *
 * 1. Console tickets: mint-and-redeem pairs per second through the gateway's own TicketService, with
 *    the memory store and with the Redis store (RedisTicketStore). Target: Redis >= 0.5x memory.
 * 2. Event fan-out: 1,000 graphql-ws subscribers spread over three replicas sharing one Redis (events
 *    published on one replica, delivered through the shared stream), against 1,000 on one replica
 *    without Redis.
 *
 *   npx tsx bench/fleet.ts [--quick]
 *
 * All replicas run in this one process (one event loop for three gateways and every client), so the
 * three-replica figure is a floor: separate processes on separate cores would each do a third.
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { startGateway, type RunningGateway } from '../src/app.js';
import { validateConfig } from '../src/config.js';
import { RedisTicketStore } from '../src/console/redis-ticket-store.js';
import { connectFleet } from '../src/fleet/redis.js';
import { redisSchema } from '../src/fleet/config.js';
import { TicketService } from '../src/console/tickets.js';
import { createLogger } from '../src/logger.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';

const TICKET_TARGET = 0.5;
const quick = process.argv.includes('--quick');
const PAIRS = quick ? 2_000 : 20_000;
const CONCURRENCY = 32;
const SUBSCRIBERS = quick ? 150 : 1_000;
const EVENTS = quick ? 50 : 300;
const WARMUP_EVENTS = quick ? 10 : 50;
const WINDOW = 4;

// ---- tickets ----------------------------------------------------------------------------------------

async function mintRedeemRate(tickets: TicketService, pairs: number): Promise<number> {
  const vm = { provider: 'bench', upstreamId: 'vm-1', caller: 'bench' };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pairs) {
      next++;
      const { ticket } = await tickets.mint(vm);
      await tickets.redeem(ticket, { vmId: 'bench:vm-1' });
    }
  };
  // Warm-up, then the measured run.
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return pairs / ((performance.now() - started) / 1000);
}

// ---- event fan-out ----------------------------------------------------------------------------------

interface FanOut {
  delivered: number;
  expected: number;
  deliveriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function subscribe(url: string, onEvent: (seq: number, sentAt: number) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { perMessageDeflate: false });
  ws.on('error', () => undefined);
  await once(ws, 'open');
  const acked = once(ws, 'message');
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await acked;
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type?: string; payload?: { data?: { events?: { object?: { seq: number; sentAt: number } } } } };
    const o = msg.type === 'next' ? msg.payload?.data?.events?.object : undefined;
    if (o) onEvent(o.seq, o.sentAt);
  });
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { events(filter: { sources: [GATEWAY] }) { id object } }' } }));
  return ws;
}

async function fanOut(gateways: RunningGateway[], subscribers: number): Promise<FanOut> {
  let events = WARMUP_EVENTS;
  let perEvent = new Uint32Array(events);
  let latencies: number[] = [];
  let complete = 0;
  let onComplete = (): void => {};
  const record = (seq: number, sentAt: number): void => {
    if (seq < 0 || seq >= events) return;
    latencies.push(performance.now() - sentAt);
    if (++perEvent[seq]! === subscribers) {
      complete++;
      onComplete();
    }
  };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < subscribers; i += 50) {
    const batch = Array.from({ length: Math.min(50, subscribers - i) }, (_, j) => subscribe(gateways[(i + j) % gateways.length]!.url, record));
    sockets.push(...(await Promise.all(batch)));
  }
  // Every subscription on its replica's bus before the first event.
  for (const [n, g] of gateways.entries()) {
    const want = Math.floor(subscribers / gateways.length) + (n < subscribers % gateways.length ? 1 : 0);
    for (let tries = 0; g.gateway.events.subscriberCount < want && tries < 500; tries++) await new Promise((r) => setTimeout(r, 10));
  }
  const bus = gateways[0]!.gateway.events;
  const publish = (seq: number): void => {
    bus.publish({ source: 'GATEWAY', provider: 'gateway', time: new Date().toISOString(), type: 'bench', action: 'tick', key: String(seq), principal: null, object: { seq, sentAt: performance.now() }, original: null });
  };
  const run = (): Promise<void> =>
    new Promise<void>((resolve) => {
      let next = 0;
      const timer = setTimeout(resolve, 60_000);
      const pump = (): void => {
        if (complete === events) {
          clearTimeout(timer);
          resolve();
          return;
        }
        while (next < events && next - complete < WINDOW) publish(next++);
      };
      onComplete = pump;
      pump();
    });
  // Warm-up (JIT, connections), then the measured stream with fresh counters.
  await run();
  events = EVENTS;
  perEvent = new Uint32Array(events);
  latencies = [];
  complete = 0;
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { delivered: latencies.length, expected: subscribers * events, deliveriesPerSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

async function startReplicas(count: number, redisUrl: string | null): Promise<RunningGateway[]> {
  const config = validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    limits: { maxWsConnectionsPerCaller: 10_000, maxWsConnections: 10_000 },
    // A provider that is not there: the gateway needs one; nothing here asks it anything.
    providers: [{ name: 'tower', kind: 'cloudtower', url: 'http://127.0.0.1:9', username: 'u', password: 'p' }],
    ...(redisUrl ? { redis: { url: redisUrl, keyPrefix: `bench-${Date.now()}:` } } : {}),
  });
  const out: RunningGateway[] = [];
  for (let i = 0; i < count; i++) out.push(await startGateway(config, { logger: createLogger('error'), replicaId: `bench-${i}` }));
  return out;
}

export async function runFleetBench(print: (line: string) => void = (l) => console.log(l)): Promise<void> {
  let server: RedisServer | null = null;
  try {
    server = await startRedisServer();
    print(`fleet bench: ${PAIRS} mint+redeem pairs at concurrency ${CONCURRENCY}; ${SUBSCRIBERS} subscribers x ${EVENTS} events (window ${WINDOW})`);
    const memoryRate = await mintRedeemRate(new TicketService({ ttlMs: 30_000 }), PAIRS);
    // The gateway's own connection (connectFleet: its options), then the same with ioredis auto-pipelining.
    const fleetConn = await connectFleet(redisSchema.parse({ url: server.url, keyPrefix: 'bench-t:' }), { logger: createLogger('error') });
    const redisRate = await mintRedeemRate(new TicketService({ ttlMs: 30_000, store: new RedisTicketStore({ redis: fleetConn.redis }) }), PAIRS);
    await fleetConn.close();
    const piped = new Redis(server.url, { keyPrefix: 'bench-p:', enableAutoPipelining: true });
    const pipedRate = await mintRedeemRate(new TicketService({ ttlMs: 30_000, store: new RedisTicketStore({ redis: piped }) }), PAIRS);
    piped.disconnect();
    const ratio = redisRate / memoryRate;

    const one = await startReplicas(1, null);
    const single = await fanOut(one, SUBSCRIBERS);
    for (const g of one) await g.close();
    const three = await startReplicas(3, server.url);
    const fleet = await fanOut(three, SUBSCRIBERS);
    for (const g of three) await g.close();

    const w = [34, 18, 18];
    const line = (c: string[]): string => c.map((s, i) => (i === 0 ? s.padEnd(w[i]!) : s.padStart(w[i]!))).join(' ');
    print('');
    const w4 = [34, 18, 18, 22];
    const line4 = (c: string[]): string => c.map((s, i) => (i === 0 ? s.padEnd(w4[i]!) : s.padStart(w4[i]!))).join(' ');
    print(line4(['tickets (mint + redeem)', 'memory store', 'Redis store', 'Redis, auto-pipelined']));
    print(line4(['pairs / s', ...[memoryRate, redisRate, pipedRate].map((r) => Math.round(r).toLocaleString('en-US'))]));
    print(`ratio Redis/memory: ${ratio.toFixed(2)}x, auto-pipelined ${(pipedRate / memoryRate).toFixed(2)}x (target >= ${TICKET_TARGET}x: ${ratio >= TICKET_TARGET ? 'met' : 'NOT met'})`);
    print('');
    print(line([`event fan-out, ${SUBSCRIBERS} subscribers`, 'one replica', 'three + Redis']));
    print(line(['delivered / expected', `${single.delivered} / ${single.expected}`, `${fleet.delivered} / ${fleet.expected}`]));
    print(line(['deliveries / s', Math.round(single.deliveriesPerSecond).toLocaleString('en-US'), Math.round(fleet.deliveriesPerSecond).toLocaleString('en-US')]));
    print(line(['latency p50 (ms)', single.p50Ms.toFixed(2), fleet.p50Ms.toFixed(2)]));
    print(line(['latency p99 (ms)', single.p99Ms.toFixed(2), fleet.p99Ms.toFixed(2)]));
    print(`ratio three/one deliveries per second: ${(fleet.deliveriesPerSecond / single.deliveriesPerSecond).toFixed(2)}x`);
  } finally {
    await server?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFleetBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
