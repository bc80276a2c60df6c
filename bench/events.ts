/**
 * Event fan-out benchmark: DRP events through the gateway's GraphQL subscriptions, side by side with a
 * bare `ws` broadcast of the same payloads (the limit: no DRP hop, no GraphQL execution).
 *
 *   npx tsx bench/events.ts [--subscribers N] [--events N] [--window N]
 *
 * One process, loopback only. Gateway side: a DRP simulator publishes each event once; the gateway's
 * DRP client puts it on the bus; every subscriber (one graphql-ws WebSocket each) gets its own GraphQL
 * execution and `next` message. Raw side: a `ws` server serialises each event once and sends it to
 * every client. Both sides use the same client code (a `ws` socket, JSON.parse of each message), so
 * the client cost in this process is the same on both and the difference is the server.
 *
 * Each event carries `sentAt` (performance.now() when published): latency is its arrival minus that.
 * Publishing is windowed: event i+window goes out once event i has reached every subscriber, so the
 * figures are for a sustained stream, not for how long an unbounded backlog takes to drain.
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { startGateway, type RunningGateway } from '../src/app.js';
import { validateConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startDrpSimulator, type DrpSimulator } from '../src/simulators/drp/index.js';

export interface EventsBenchOptions {
  /** Subscribers on each side, one WebSocket each. @default 1_000 */
  subscribers?: number;
  /** Events measured on each side. @default 1_000 */
  events?: number;
  /** Events published before measuring, to warm up the JIT on each side. @default 100 */
  warmupEvents?: number;
  /** Events published but not yet delivered to every subscriber, at most. @default 4 */
  window?: number;
  /** WebSockets opened at once while connecting subscribers. @default 100 */
  connectConcurrency?: number;
  /** Give up on one side's stream after this long, milliseconds. @default 60_000 */
  phaseTimeoutMs?: number;
  /** Where progress and the table go. @default console.log */
  print?: (line: string) => void;
}

export interface DeliveryFigures {
  /** Messages that reached a subscriber (subscribers x events when complete). */
  delivered: number;
  expected: number;
  /** From the first measured publish to the last measured delivery, seconds. */
  seconds: number;
  deliveredPerSecond: number;
  /** Events that reached every subscriber, per second. */
  eventsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** Messages that were not events (errors such as SUBSCRIBER_TOO_SLOW, completes). */
  otherMessages: number;
}

export interface EventsBenchResult {
  subscribers: number;
  events: number;
  window: number;
  gateway: DeliveryFigures;
  raw: DeliveryFigures;
  /** gateway.deliveredPerSecond / raw.deliveredPerSecond */
  ratio: number;
  /** The target ratio (0.5) was met. */
  targetMet: boolean;
}

const TARGET_RATIO = 0.5;
const PATTERN = 'machines.*.*';
const DRP_PROVIDER = 'drp-bench';
const SUBSCRIPTION = `subscription { events(filter: { pattern: "${PATTERN}", sources: [DRP], providers: ["${DRP_PROVIDER}"] }) { id source provider time type action key principal object original } }`;

/** A machine roughly as DRP sends it (a subset of its fields), stamped for the latency figure. */
function machineObject(seq: number, sentAt: number): Record<string, unknown> {
  return {
    Uuid: `3f9a2c1e-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    Name: `node-${seq}.lab.example`,
    Address: `10.0.${(seq >> 8) & 255}.${seq & 255}`,
    Stage: 'discover',
    BootEnv: 'sledgehammer',
    Runnable: true,
    Workflow: 'discover-base',
    seq,
    sentAt,
  };
}

/** Counts deliveries per event and keeps each latency sample. */
class DeliveryTracker {
  readonly latencies: Float64Array;
  private readonly perEvent: Uint32Array;
  delivered = 0;
  otherMessages = 0;
  /** Events that reached every subscriber. */
  completeEvents = 0;
  firstPublishAt = 0;
  lastDeliveryAt = 0;
  onEventComplete: () => void = () => {};

  constructor(
    private readonly subscribers: number,
    readonly events: number,
  ) {
    this.latencies = new Float64Array(subscribers * events);
    this.perEvent = new Uint32Array(events);
  }

  record(seq: number, sentAt: number): void {
    const now = performance.now();
    if (seq < 0 || seq >= this.events) return;
    this.latencies[this.delivered++] = now - sentAt;
    this.lastDeliveryAt = now;
    if (++this.perEvent[seq]! === this.subscribers) {
      this.completeEvents++;
      this.onEventComplete();
    }
  }

  figures(): DeliveryFigures {
    const samples = this.latencies.slice(0, this.delivered).sort();
    const at = (q: number) => (samples.length === 0 ? Number.NaN : samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!);
    const seconds = (this.lastDeliveryAt - this.firstPublishAt) / 1000;
    return {
      delivered: this.delivered,
      expected: this.subscribers * this.events,
      seconds,
      deliveredPerSecond: this.delivered / seconds,
      eventsPerSecond: this.completeEvents / seconds,
      latencyP50Ms: at(0.5),
      latencyP99Ms: at(0.99),
      latencyMaxMs: samples.length === 0 ? Number.NaN : samples[samples.length - 1]!,
      otherMessages: this.otherMessages,
    };
  }
}

/** The one client used on both sides: a plain socket that parses each message and records its event. */
interface BenchClients {
  sockets: WebSocket[];
  /** Where deliveries are counted; swapped between warm-up and measurement. */
  tracker: DeliveryTracker | null;
  close(): Promise<void>;
}

async function openClients(
  url: string,
  count: number,
  concurrency: number,
  handshake: (ws: WebSocket) => Promise<void>,
): Promise<BenchClients> {
  const clients: BenchClients = {
    sockets: [],
    tracker: null,
    close: async () => {
      await Promise.all(
        clients.sockets.map((ws) => {
          if (ws.readyState === WebSocket.CLOSED) return undefined;
          const closed = once(ws, 'close');
          ws.terminate();
          return closed;
        }),
      );
    },
  };
  const open = async (): Promise<void> => {
    const ws = new WebSocket(url, url.endsWith('/graphql') ? 'graphql-transport-ws' : [], { perMessageDeflate: false });
    clients.sockets.push(ws);
    ws.on('error', () => undefined);
    await once(ws, 'open');
    await handshake(ws);
    ws.on('message', (data) => {
      const tracker = clients.tracker;
      if (!tracker) return;
      const message = JSON.parse(String(data)) as { type?: string; payload?: { data?: { events?: { object?: { seq?: number; sentAt?: number } } } } };
      const object = message.type === 'next' ? message.payload?.data?.events?.object : undefined;
      if (object && typeof object.seq === 'number' && typeof object.sentAt === 'number') tracker.record(object.seq, object.sentAt);
      else tracker.otherMessages++;
    });
  };
  for (let started = 0; started < count; started += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, count - started) }, open));
  }
  return clients;
}

/** graphql-transport-ws by hand: connection_init, wait for the ack, subscribe. */
async function graphqlHandshake(ws: WebSocket): Promise<void> {
  const acked = new Promise<void>((resolve, reject) => {
    ws.once('message', (data) => {
      const type = (JSON.parse(String(data)) as { type?: string }).type;
      if (type === 'connection_ack') resolve();
      else reject(new Error(`expected connection_ack, got ${type}`));
    });
  });
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await acked;
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }));
}

/**
 * Publishes `events` events with at most `window` not yet delivered everywhere; resolves when all have
 * been delivered or after timeoutMs (the figures then say how far it got).
 */
function drive(tracker: DeliveryTracker, publish: (seq: number) => void, window: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      tracker.onEventComplete = () => {};
      resolve();
    };
    const timer = setTimeout(finish, timeoutMs);
    const pump = () => {
      if (finished) return;
      if (tracker.completeEvents === tracker.events) {
        finish();
        return;
      }
      while (next < tracker.events && next - tracker.completeEvents < window) publish(next++);
    };
    tracker.onEventComplete = pump;
    tracker.firstPublishAt = performance.now();
    pump();
  });
}

async function measure(
  clients: BenchClients,
  subscribers: number,
  opts: Required<Pick<EventsBenchOptions, 'events' | 'warmupEvents' | 'window' | 'phaseTimeoutMs'>>,
  publish: (seq: number, sentAt: number) => void,
): Promise<DeliveryFigures> {
  if (opts.warmupEvents > 0) {
    const warmup = new DeliveryTracker(subscribers, opts.warmupEvents);
    clients.tracker = warmup;
    await drive(warmup, (seq) => publish(seq, performance.now()), opts.window, opts.phaseTimeoutMs);
  }
  const tracker = new DeliveryTracker(subscribers, opts.events);
  clients.tracker = tracker;
  await drive(tracker, (seq) => publish(seq, performance.now()), opts.window, opts.phaseTimeoutMs);
  clients.tracker = null;
  return tracker.figures();
}

async function measureGateway(
  subscribers: number,
  opts: Required<Pick<EventsBenchOptions, 'events' | 'warmupEvents' | 'window' | 'phaseTimeoutMs' | 'connectConcurrency'>>,
): Promise<DeliveryFigures> {
  let drp: DrpSimulator | null = null;
  let gateway: RunningGateway | null = null;
  let clients: BenchClients | null = null;
  try {
    drp = await startDrpSimulator();
    const sim = drp;
    const drpConnected = once(sim, 'connection');
    const config = validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      providers: [{ name: DRP_PROVIDER, kind: 'drp', url: sim.url, username: 'rocketskates', password: 'r0cketsk8ts' }],
    });
    gateway = await startGateway(config, { logger: createLogger('error') });
    await drpConnected;
    const bus = gateway.gateway.events;
    const registered = new Promise<void>((resolve) => {
      const onCommand = (c: { text: string }) => {
        if (c.text !== `register ${PATTERN}`) return;
        sim.off('command', onCommand);
        resolve();
      };
      sim.on('command', onCommand);
    });
    clients = await openClients(`${gateway.url.replace('http', 'ws')}/graphql`, subscribers, opts.connectConcurrency, graphqlHandshake);
    await registered;
    // Every subscription is on the bus before the first event (graphql-ws sets them up asynchronously).
    await new Promise<void>((resolve) => {
      if (bus.subscriberCount >= subscribers) return resolve();
      const stop = bus.onSubscribe(() => {
        if (bus.subscriberCount < subscribers) return;
        stop();
        resolve();
      });
    });
    return await measure(clients, subscribers, opts, (seq, sentAt) => {
      sim.publish({ Type: 'machines', Action: 'save', Key: `m-${seq}`, Object: machineObject(seq, sentAt) });
    });
  } finally {
    await clients?.close();
    await gateway?.close();
    await drp?.close();
  }
}

async function measureRawBroadcast(
  subscribers: number,
  opts: Required<Pick<EventsBenchOptions, 'events' | 'warmupEvents' | 'window' | 'phaseTimeoutMs' | 'connectConcurrency'>>,
): Promise<DeliveryFigures> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  let clients: BenchClients | null = null;
  try {
    await once(wss, 'listening');
    const { port } = wss.address() as { port: number };
    clients = await openClients(`ws://127.0.0.1:${port}/raw`, subscribers, opts.connectConcurrency, async () => {});
    let nextId = 1;
    return await measure(clients, subscribers, opts, (seq, sentAt) => {
      // What a GraphQL subscriber receives, serialised once for everybody.
      const object = machineObject(seq, sentAt);
      const text = JSON.stringify({
        id: '1',
        type: 'next',
        payload: {
          data: {
            events: {
              id: String(nextId++),
              source: 'DRP',
              provider: DRP_PROVIDER,
              time: new Date().toISOString(),
              type: 'machines',
              action: 'save',
              key: `m-${seq}`,
              principal: 'user:rocketskates',
              object,
              original: object,
            },
          },
        },
      });
      for (const ws of wss.clients) ws.send(text);
    });
  } finally {
    await clients?.close();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

export async function runEventsBench(options: EventsBenchOptions = {}): Promise<EventsBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const subscribers = options.subscribers ?? 1_000;
  const opts = {
    events: options.events ?? 1_000,
    warmupEvents: options.warmupEvents ?? 100,
    window: options.window ?? 4,
    phaseTimeoutMs: options.phaseTimeoutMs ?? 60_000,
    connectConcurrency: options.connectConcurrency ?? 100,
  };
  print(`events bench: ${subscribers} subscribers, ${opts.events} events (+${opts.warmupEvents} warm-up), window ${opts.window}`);
  print('  gateway: DRP simulator -> gateway -> graphql-ws ...');
  const gateway = await measureGateway(subscribers, opts);
  print('  raw ws broadcast ...');
  const raw = await measureRawBroadcast(subscribers, opts);
  const ratio = gateway.deliveredPerSecond / raw.deliveredPerSecond;
  const result: EventsBenchResult = {
    subscribers,
    events: opts.events,
    window: opts.window,
    gateway,
    raw,
    ratio,
    targetMet: ratio >= TARGET_RATIO && gateway.delivered === gateway.expected,
  };
  print(formatEventsBench(result));
  return result;
}

export function formatEventsBench(result: EventsBenchResult): string {
  const rows: [string, (f: DeliveryFigures) => string][] = [
    ['delivered / expected', (f) => `${f.delivered} / ${f.expected}`],
    ['other messages', (f) => String(f.otherMessages)],
    ['wall time (s)', (f) => f.seconds.toFixed(2)],
    ['deliveries / s', (f) => Math.round(f.deliveredPerSecond).toLocaleString('en-US')],
    ['events / s (to all)', (f) => f.eventsPerSecond.toFixed(0)],
    ['latency p50 (ms)', (f) => f.latencyP50Ms.toFixed(2)],
    ['latency p99 (ms)', (f) => f.latencyP99Ms.toFixed(2)],
    ['latency max (ms)', (f) => f.latencyMaxMs.toFixed(2)],
  ];
  const width = [22, 26, 18];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join(' ');
  return [
    '',
    line(['', 'gateway (graphql-ws)', 'raw ws broadcast']),
    ...rows.map(([label, value]) => line([label, value(result.gateway), value(result.raw)])),
    '',
    `ratio gateway/raw deliveries per second: ${result.ratio.toFixed(2)}x (target >= ${TARGET_RATIO}x: ${result.targetMet ? 'met' : 'NOT met'})`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { subscribers: { type: 'string' }, events: { type: 'string' }, window: { type: 'string' } },
  });
  const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  runEventsBench({ subscribers: number(values.subscribers), events: number(values.events), window: number(values.window) }).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
