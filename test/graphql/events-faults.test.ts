/**
 * The events subscription under faults, end to end over real sockets: DRP simulator -> gateway's DRP
 * client -> EventBus -> graphql-ws -> WebSocket clients. The gateway runs in this process, so the tests
 * also look at its bus and sockets to check that memory stays bounded.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { DEFAULT_MAX_QUEUE, type EventBus, type EventSubscription, type UnsubscribeReason } from '../../src/events/bus.js';
import { formatEventPattern } from '../../src/events/pattern.js';
import { startDrpSimulator, type DrpSimulator } from '../../src/simulators/drp/index.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { collect, commandSeen, recordCommands } from '../helpers/subscriptions.js';

const EVENT_FIELDS = 'id source provider time type action key principal object original';
const DRP_PROVIDER = 'drp-lab';

let env: TowerGateway | undefined;
let drp: DrpSimulator | undefined;
let client: Client | undefined;
const rawClients: RawGraphQLWsClient[] = [];
afterEach(async () => {
  for (const raw of rawClients.splice(0)) raw.terminate();
  await client?.dispose();
  await env?.close();
  await drp?.close();
  env = undefined;
  drp = undefined;
  client = undefined;
});

async function drpGateway(): Promise<{ env: TowerGateway; drp: DrpSimulator; bus: EventBus; wsUrl: string }> {
  drp = await startDrpSimulator();
  const connected = once(drp, 'connection');
  env = await startTowerGateway({
    extraProviders: [{ name: DRP_PROVIDER, kind: 'drp', url: drp.url, username: 'rocketskates', password: 'r0cketsk8ts' }],
  });
  await connected;
  return { env, drp, bus: env.gateway.gateway.events, wsUrl: `${env.gateway.url.replace('http', 'ws')}/graphql` };
}

function graphqlWsClient(url: string, on: { closed?: () => void } = {}): Client {
  client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, on });
  return client;
}

function eventsQuery(pattern: string): string {
  return `subscription { events(filter: { pattern: "${pattern}", sources: [DRP], providers: ["${DRP_PROVIDER}"] }) { ${EVENT_FIELDS} } }`;
}

/** Waits until the bus's subscriber count satisfies `check`, re-checking after each (un)subscribe. */
function busCount(bus: EventBus, check: (n: number) => boolean): Promise<void> {
  if (check(bus.subscriberCount)) return Promise.resolve();
  return new Promise((resolve) => {
    const test = () => {
      if (!check(bus.subscriberCount)) return;
      stopSub();
      stopUnsub();
      resolve();
    };
    const stopSub = bus.onSubscribe(test);
    const stopUnsub = bus.onUnsubscribe(test);
  });
}

/** Keeps every EventSubscription the bus hands out (the bus does not expose them), keyed by pattern text. */
function captureSubscriptions(bus: EventBus): Map<string, EventSubscription> {
  const byPattern = new Map<string, EventSubscription>();
  const subscribe = bus.subscribe.bind(bus);
  bus.subscribe = (filter, options) => {
    const sub = subscribe(filter, options);
    if (filter?.pattern) byPattern.set(formatEventPattern(filter.pattern), sub);
    return sub;
  };
  return byPattern;
}

interface ProtocolMessage {
  id?: string;
  type: string;
  payload?: any;
}

/** graphql-transport-ws spoken by hand over a plain `ws` socket, so a test can stop reading at will. */
class RawGraphQLWsClient {
  readonly messages: ProtocolMessage[] = [];
  private closed = false;
  private readonly changed = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as ProtocolMessage);
      this.notify();
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static async connect(url: string): Promise<RawGraphQLWsClient> {
    const raw = new RawGraphQLWsClient(new WebSocket(url, 'graphql-transport-ws'));
    rawClients.push(raw);
    await once(raw.ws, 'open');
    raw.ws.send(JSON.stringify({ type: 'connection_init' }));
    await raw.waitFor(() => raw.messages.some((m) => m.type === 'connection_ack'));
    return raw;
  }

  subscribe(id: string, query: string): void {
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
  }

  /** Resolves once `check()` holds; rejects if the socket closes first. */
  waitFor(check: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (check()) resolve();
        else if (this.closed) reject(new Error(`socket closed; last message: ${JSON.stringify(this.messages.at(-1))}`));
        else return;
        this.changed.delete(test);
      };
      this.changed.add(test);
      test();
    });
  }

  complete(id: string): void {
    this.ws.send(JSON.stringify({ id, type: 'complete' }));
  }

  terminate(): void {
    this.ws.terminate();
  }

  private notify(): void {
    for (const test of [...this.changed]) test();
  }
}

/** A DRP machine event carrying its sequence number (and padding, to make each message a realistic size). */
function machineEvent(seq: number, padding = '') {
  return { Type: 'machines', Action: 'save', Key: `m-${seq}`, Object: { Uuid: `m-${seq}`, seq, padding } };
}

describe('events subscription faults (graphql-ws, DRP)', () => {
  it('keeps the GraphQL subscriber through a DRP restart, re-registers on the new DRP and delivers nothing twice', async () => {
    const { drp: first, wsUrl } = await drpGateway();
    let closes = 0;
    const c = graphqlWsClient(wsUrl, { closed: () => closes++ });
    const registered = commandSeen(first, 'register machines.*.*');
    const sub = collect(c, eventsQuery('machines.*.*'));
    await registered;
    for (let seq = 1; seq <= 3; seq++) first.publish(machineEvent(seq));
    await sub.until(3);

    const port = first.port;
    await first.close();
    drp = await startDrpSimulator({ port });
    // The gateway's first try may carry the old DRP's token and be refused; it must fetch a new one.
    await commandSeen(drp, 'register machines.*.*');
    expect(drp.connections()).toHaveLength(1);
    expect(drp.connections()[0]!.registrations).toEqual(['machines.*.*']);
    expect(drp.totalRegistrations()).toBe(1);

    for (let seq = 4; seq <= 6; seq++) drp.publish(machineEvent(seq));
    await sub.until(6);
    // A last event proves nothing else (a replay, a duplicate) was queued ahead of it.
    drp.publish(machineEvent(7));
    await sub.until(7);

    expect(sub.received.every((r) => r.errors === undefined)).toBe(true);
    const events = sub.received.map((r) => r.data.events);
    expect(events.map((e) => e.key)).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6', 'm-7']);
    // ULIDs: unique, and in publication order they sort as strings.
    const ids: string[] = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort());
    expect(sub.ended()).toBeNull();
    expect(closes).toBe(0);
  });

  it('ends a subscriber that stops reading with SUBSCRIBER_TOO_SLOW, keeps gateway memory bounded and a fast subscriber whole', async () => {
    const { env, drp, bus, wsUrl } = await drpGateway();
    const TOTAL = 10_000;
    // ~2.3 KB per message, ~23 MB in all. graphql-ws awaits each ws.send callback, which Node calls once
    // the kernel took the bytes, so the bus queue only grows after the socket buffers are full: about
    // 4 MB on loopback with Linux defaults (the gateway's send buffer autotunes up to tcp_wmem's 4 MiB
    // maximum, plus the paused client's receive buffer). 10,000 events of ~300 bytes fit in there and
    // nothing is dropped (the paused client gets them all later); these do not, so the drop is exercised.
    const padding = 'x'.repeat(2_000);
    const subscriptions = captureSubscriptions(bus);
    const endReasons = new Map<number, UnsubscribeReason>();
    bus.onUnsubscribe((info, reason) => endReasons.set(info.id, reason));
    const gatewaySockets: Socket[] = [];
    env.gateway.http.server.on('connection', (socket: Socket) => gatewaySockets.push(socket));

    const slow = await RawGraphQLWsClient.connect(wsUrl);
    expect(gatewaySockets).toHaveLength(1);
    const slowGatewaySocket = gatewaySockets[0]!;
    const slowRegistered = commandSeen(drp, 'register machines.*.*');
    slow.subscribe('slow-1', eventsQuery('machines.*.*'));
    await slowRegistered;
    const slowSub = subscriptions.get('machines.*.*')!;
    expect(slowSub).toBeDefined();

    const fastRegistered = commandSeen(drp, 'register machines.save.*');
    const fast = collect(graphqlWsClient(wsUrl), eventsQuery('machines.save.*'));
    await fastRegistered;

    slow.ws.pause();
    let maxQueued = 0;
    let maxGatewayBuffered = 0;
    const publish = bus.publish.bind(bus);
    bus.publish = (input) => {
      const event = publish(input);
      maxQueued = Math.max(maxQueued, slowSub.queued);
      maxGatewayBuffered = Math.max(maxGatewayBuffered, slowGatewaySocket.writableLength);
      return event;
    };
    // In batches the fast subscriber is given time to keep up with: on a loaded CI machine a reader
    // that is merely slow to be scheduled would otherwise fall 1,000 events behind and be dropped too.
    const BATCH = 250;
    for (let seq = 1; seq <= TOTAL; seq++) {
      drp.publish(machineEvent(seq, padding));
      if (seq % BATCH === 0) await fast.until(seq);
    }

    await fast.until(TOTAL);
    expect(fast.received.map((r) => r.data?.events?.object?.seq)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(fast.ended()).toBeNull();
    // Dropped while the client was still not reading: the gateway did not wait for it.
    expect(endReasons.get(slowSub.info.id), 'not dropped: did the socket buffers absorb every event? (see tcp_wmem)').toBe('too-slow');
    expect(maxQueued).toBeLessThanOrEqual(DEFAULT_MAX_QUEUE);
    expect(slowSub.queued).toBe(0);
    // graphql-ws awaits each send, so at most one message per subscription sits in the gateway's own buffer.
    expect(maxGatewayBuffered).toBeLessThan(64 * 1024);
    expect(bus.subscriberCount).toBe(1);

    slow.ws.resume();
    await slow.waitFor(() => slow.messages.some((m) => m.id === 'slow-1' && m.type === 'complete'));
    const mine = slow.messages.filter((m) => m.id === 'slow-1');
    expect(mine.at(-1)!.type).toBe('complete');
    const failure = mine.at(-2)!;
    expect(failure.type).toBe('next');
    expect(failure.payload.errors?.[0]?.extensions?.code).toBe('SUBSCRIBER_TOO_SLOW');
    const delivered = mine.slice(0, -2).map((m) => m.payload.data.events.object.seq as number);
    // What reached the client is an unbroken prefix of the stream, and not all of it.
    expect(delivered).toEqual(Array.from({ length: delivered.length }, (_, i) => i + 1));
    expect(delivered.length).toBeLessThan(TOTAL);
    expect(slow.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('leaves no DRP registration and no bus subscriber after 1,000 subscribe/unsubscribe cycles', async () => {
    const { drp, bus, wsUrl } = await drpGateway();
    let subscribed = 0;
    let unsubscribed = 0;
    bus.onSubscribe(() => subscribed++);
    bus.onUnsubscribe(() => unsubscribed++);
    const c = graphqlWsClient(wsUrl);
    const raw = await RawGraphQLWsClient.connect(wsUrl);
    // 40 at a time: under the gateway's default limit of 50 operations per graphql-ws connection.
    const BATCHES = 25;
    const PER_BATCH = 40;
    const PATTERNS = 7;
    const pattern = (n: number) => `machines.*.k${n % PATTERNS}`;
    for (let batch = 0; batch < BATCHES; batch++) {
      const before = subscribed;
      if (batch % 2 === 0) {
        const subs = Array.from({ length: PER_BATCH }, (_, i) => collect(c, eventsQuery(pattern(batch * PER_BATCH + i))));
        await busCount(bus, (n) => n === PER_BATCH);
        for (const sub of subs) sub.unsubscribe();
      } else {
        // `complete` right behind `subscribe`: graphql-ws gets it while still setting the subscription up.
        for (let i = 0; i < PER_BATCH; i++) {
          const id = `b${batch}-${i}`;
          raw.subscribe(id, eventsQuery(pattern(batch * PER_BATCH + i)));
          raw.complete(id);
        }
      }
      await busCount(bus, () => subscribed === before + PER_BATCH && unsubscribed === subscribed);
    }
    expect(subscribed).toBe(BATCHES * PER_BATCH);
    expect(raw.messages.filter((m) => m.type !== 'connection_ack')).toEqual([]);
    // DRP handles one socket's commands in order: once it has a later register, every deregister is in.
    const barrier = commandSeen(drp, 'register machines.*.barrier');
    const last = collect(c, eventsQuery('machines.*.barrier'));
    await barrier;
    expect(drp.connections()[0]!.registrations).toEqual(['machines.*.barrier']);
    const barrierGone = commandSeen(drp, 'deregister machines.*.barrier');
    last.unsubscribe();
    await barrierGone;
    expect(drp.totalRegistrations()).toBe(0);
    expect(bus.subscriberCount).toBe(0);
    expect((await env!.gql('{ upstreams { name registrations } }')).data!.upstreams).toContainEqual({ name: DRP_PROVIDER, registrations: [] });
  });

  it('sends one register for two subscribers of the same pattern and one deregister when the last leaves', async () => {
    const { drp, bus, wsUrl } = await drpGateway();
    const commands = recordCommands(drp);
    const c = graphqlWsClient(wsUrl);
    /** A register for another pattern: when DRP has it, it has everything the gateway sent before. */
    const barrier = async () => {
      const seen = commandSeen(drp, 'register profiles.*.barrier');
      const sub = collect(c, eventsQuery('profiles.*.barrier'));
      await seen;
      const gone = commandSeen(drp, 'deregister profiles.*.barrier');
      sub.unsubscribe();
      await gone;
    };

    const registered = commandSeen(drp, 'register machines.*.*');
    const a = collect(c, eventsQuery('machines.*.*'));
    await registered;
    const b = collect(c, eventsQuery('machines.*.*'));
    await busCount(bus, (n) => n === 2);
    await barrier();
    drp.publish(machineEvent(1));
    await a.until(1);
    await b.until(1);

    a.unsubscribe();
    await busCount(bus, (n) => n === 1);
    await barrier();
    expect(drp.connections()[0]!.registrations).toEqual(['machines.*.*']);
    drp.publish(machineEvent(2));
    await b.until(2);

    const deregistered = commandSeen(drp, 'deregister machines.*.*');
    b.unsubscribe();
    await deregistered;
    await barrier();
    const forPattern = commands.filter((cmd) => cmd.text.endsWith(' machines.*.*'));
    expect(forPattern).toEqual([
      { text: 'register machines.*.*', outcome: 'registered' },
      { text: 'deregister machines.*.*', outcome: 'deregistered' },
    ]);
    expect(commands.some((cmd) => cmd.outcome === 'duplicate')).toBe(false);
    expect(a.received.map((r) => r.data.events.key)).toEqual(['m-1']);
    expect(b.received.map((r) => r.data.events.key)).toEqual(['m-1', 'm-2']);
    expect(drp.totalRegistrations()).toBe(0);
  });
});
