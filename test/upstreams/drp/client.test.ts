import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { EventBus } from '../../../src/events/bus.js';
import { parseEventPattern } from '../../../src/events/pattern.js';
import type { GatewayEvent } from '../../../src/events/types.js';
import { bridgeBusToDrp } from '../../../src/upstreams/drp/bus-bridge.js';
import { pino } from 'pino';
import { systemClock, type Clock } from '../../../src/clock.js';
import { providerSchema, type DrpProviderConfig } from '../../../src/config.js';
import type { EventPublisher } from '../../../src/events/types.js';
import { DrpEventClient } from '../../../src/upstreams/drp/client.js';
import { startDrpSimulator, type DrpSimulator, type DrpSimulatorOptions } from '../../../src/simulators/drp/index.js';
import type { TlsOptions } from '../../../src/upstreams/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { RecordingPublisher } from '../../helpers/recording-publisher.js';
import { recordCommands } from '../../helpers/subscriptions.js';
import { waitFor, waitUntil } from '../../helpers/wait.js';

const USER = 'rocketskates';
const PASSWORD = 'r0cketsk8ts';
const MACHINES = parseEventPattern('machines.*.*');
const PROFILES = parseEventPattern('profiles.*.*');

const sims: DrpSimulator[] = [];
const eventClients: DrpEventClient[] = [];
const wsServers: WebSocketServer[] = [];

afterEach(async () => {
  await Promise.all(eventClients.splice(0).map((c) => c.close()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
  for (const w of wsServers.splice(0)) {
    for (const c of w.clients) c.terminate();
    await new Promise((resolve) => w.close(resolve));
  }
});

async function startSim(options: DrpSimulatorOptions = {}): Promise<DrpSimulator> {
  const sim = await startDrpSimulator(options);
  sims.push(sim);
  return sim;
}

/** The `object` of an `upstreams.connected/disconnected.<name>` GATEWAY event. */
interface ConnectionChange {
  provider: string;
  connected: boolean;
  error: string | null;
}

interface Harness {
  client: DrpEventClient;
  /** DRP events only; connection changes go to `changes` and the `change` signal. */
  publisher: RecordingPublisher;
  /** Emits `change` (ConnectionChange) and `warn` (the logged object). */
  signals: EventEmitter;
  changes: boolean[];
}

interface Extras {
  clock?: Clock;
  tls?: TlsOptions;
  random?: () => number;
  /** Where DRP events go instead of the harness's recorder (connection changes still reach `changes`). */
  events?: EventPublisher;
}

/** `config` is laid over a valid provider entry (password auth, fast reconnects) and goes through the schema. */
function makeClient(url: string, config: Record<string, unknown> = {}, extras: Extras = {}): Harness {
  const publisher = new RecordingPublisher();
  const signals = new EventEmitter();
  const changes: boolean[] = [];
  const drpEvents = extras.events ?? publisher;
  const events: EventPublisher = {
    publish: (e) => {
      if (e.source !== 'GATEWAY') return drpEvents.publish(e);
      const change = e.object as ConnectionChange;
      changes.push(change.connected);
      signals.emit('change', change);
    },
  };
  const entry = providerSchema.parse({
    kind: 'drp',
    name: 'drp1',
    url,
    username: USER,
    password: PASSWORD,
    reconnect: { initialMs: 5, maxMs: 20 },
    ...config,
  }) as DrpProviderConfig;
  const logger = Object.assign(pino({ level: 'silent' }), { warn: (obj: unknown) => signals.emit('warn', obj) });
  const client = new DrpEventClient(entry, extras.tls ?? {}, { logger: logger as never, events, clock: extras.clock ?? systemClock }, extras.random);
  eventClients.push(client);
  return { client, publisher, signals, changes };
}

function connected(h: Harness): Promise<ConnectionChange> {
  return waitFor<ConnectionChange>(h.signals, 'change', (c) => c.connected);
}

/** Starts the client and resolves once it is connected. */
async function started(h: Harness): Promise<void> {
  const up = connected(h);
  h.client.start();
  await up;
}

function disconnected(h: Harness): Promise<ConnectionChange> {
  return waitFor<ConnectionChange>(h.signals, 'change', (c) => !c.connected);
}

describe('DrpEventClient', () => {
  it('exchanges the password for a token, registers, and publishes normalised events (acks are not published)', async () => {
    const sim = await startSim();
    const h = makeClient(sim.url);
    await started(h);
    expect(sim.tokensIssued).toBe(1);
    expect(sim.connections()[0]?.authMethod).toBe('bearer');
    await h.client.acquire(MACHINES);
    sim.emitObjectEvent({ type: 'profiles', action: 'save', key: 'global', object: {} }); // not registered
    const sent = sim.publish({
      Time: '2017-12-21T23:26:43.412554192Z',
      Type: 'machines',
      Action: 'save',
      Key: 'u1',
      Object: { Uuid: 'u1', Stage: 'b' },
      Original: { Uuid: 'u1', Stage: 'a' },
    });
    expect(sent).toBe(1);
    await h.publisher.waitForCount(1);
    expect(h.publisher.events).toEqual([
      {
        source: 'DRP',
        provider: 'drp1',
        time: '2017-12-21T23:26:43.412Z',
        type: 'machines',
        action: 'save',
        key: 'u1',
        principal: 'user:rocketskates',
        object: { Uuid: 'u1', Stage: 'b' },
        original: { Uuid: 'u1', Stage: 'a' },
      },
    ]);
    const state = h.client.state();
    expect(state).toMatchObject({ connected: true, registrations: ['machines.*.*'], lastError: null });
    expect(state.lastEventAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('reference-counts registrations: one register for two holders, one deregister after both release', async () => {
    const sim = await startSim();
    const commands = recordCommands(sim);
    const h = makeClient(sim.url);
    await started(h);
    await Promise.all([h.client.acquire(MACHINES), h.client.acquire(MACHINES)]);
    expect(commands.map((c) => c.text)).toEqual(['register machines.*.*']);
    await h.client.release(MACHINES);
    expect(sim.totalRegistrations()).toBe(1);
    expect(h.client.state().registrations).toEqual(['machines.*.*']);
    await h.client.release(MACHINES);
    await h.client.release(MACHINES); // one too many: ignored
    expect(commands.map((c) => c.text)).toEqual(['register machines.*.*', 'deregister machines.*.*']);
    expect(sim.totalRegistrations()).toBe(0);
    expect(h.client.state().registrations).toEqual([]);
  });

  it('ends 1,000 acquire/release cycles with zero registrations and no duplicate register', async () => {
    const sim = await startSim();
    const commands = recordCommands(sim);
    const h = makeClient(sim.url);
    await started(h);
    for (let i = 0; i < 1000; i++) {
      await h.client.acquire(MACHINES);
      await h.client.release(MACHINES);
    }
    // And the same without waiting for acks in between.
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++) {
      pending.push(h.client.acquire(i % 2 ? MACHINES : PROFILES), h.client.release(i % 2 ? MACHINES : PROFILES));
    }
    await Promise.allSettled(pending);
    expect(sim.totalRegistrations()).toBe(0);
    expect(commands).toHaveLength(2400);
    expect(commands.filter((c) => c.outcome === 'duplicate')).toEqual([]);
    expect(h.client.state().registrations).toEqual([]);
  });

  it('survives a DRP restart on the same port: re-registers and resumes without duplicates', async () => {
    const first = await startSim();
    const h = makeClient(first.url);
    await started(h);
    await h.client.acquire(MACHINES);
    for (let i = 0; i < 3; i++) first.publish({ Type: 'machines', Action: 'save', Key: `before-${i}` });
    await h.publisher.waitForCount(3);

    const down = disconnected(h);
    const port = first.port;
    await first.close();
    await down;
    expect(h.client.state()).toMatchObject({ connected: false, registrations: ['machines.*.*'] });
    // A subscriber arriving while DRP is down is registered once DRP is back.
    const lateAcquire = h.client.acquire(PROFILES);

    const second = await startSim({ port });
    const commands = recordCommands(second);
    await waitUntil(second, 'command', () => second.totalRegistrations() === 2);
    await lateAcquire;
    for (let i = 0; i < 5; i++) second.publish({ Type: 'machines', Action: 'save', Key: `after-${i}` });
    second.publish({ Type: 'profiles', Action: 'save', Key: 'global' });
    await h.publisher.waitForCount(9);
    expect(h.publisher.events.map((e) => e.key)).toEqual([
      'before-0',
      'before-1',
      'before-2',
      'after-0',
      'after-1',
      'after-2',
      'after-3',
      'after-4',
      'global',
    ]);
    expect(commands.map((c) => c.outcome).sort()).toEqual(['registered', 'registered']);
    expect(second.connections()).toHaveLength(1);
    expect(h.changes).toEqual([true, false, true]);
  });

  it('records refused credentials as UPSTREAM_AUTH_FAILED, keeps retrying, and never reveals the password', async () => {
    const sim = await startSim();
    const secret = 'S3cretPassw0rd';
    const h = makeClient(sim.url, { password: secret });
    let refusals = 0;
    const twice = new Promise<void>((resolve) => sim.on('refused', () => ++refusals === 2 && resolve()));
    h.client.start();
    await twice;
    const state = h.client.state();
    expect(state.connected).toBe(false);
    expect(state.lastErrorCode).toBe('UPSTREAM_AUTH_FAILED');
    expect(state.lastError).toMatch(/drp1.*403/);
    expect(state.lastError).not.toContain(secret);
    expect(h.changes).toEqual([]);
  });

  it('records a refused bearer token without revealing it', async () => {
    const sim = await startSim();
    const token = 'bogus-token-0123456789';
    const h = makeClient(sim.url, { username: undefined, password: undefined, token });
    let refusals = 0;
    const twice = new Promise<void>((resolve) => sim.on('refused', (r: { path: string }) => r.path === '/api/v3/ws' && ++refusals === 2 && resolve()));
    h.client.start();
    await twice;
    const state = h.client.state();
    expect(state.lastErrorCode).toBe('UPSTREAM_AUTH_FAILED');
    expect(state.lastError).not.toContain(token);
  });

  it('refreshes its token at half-life so a reconnect after expiry uses a valid one', async () => {
    const timers = new FakeClock();
    const sim = await startSim({ now: timers.now });
    const refused: unknown[] = [];
    sim.on('refused', (r) => refused.push(r));
    const h = makeClient(sim.url, { tokenTtlSeconds: 60 }, { clock: timers, random: () => 0 });
    await started(h);
    expect(sim.tokensIssued).toBe(1);
    timers.advance(29_999);
    expect(sim.tokensIssued).toBe(1);
    const refreshed = waitFor(sim, 'token');
    timers.advance(1);
    await refreshed;
    expect(sim.tokensIssued).toBe(2);

    timers.advance(31_000); // the first token has expired; the refreshed one is good until 90 s
    const down = disconnected(h);
    sim.kickAll();
    await down;
    const back = connected(h);
    timers.advance(0); // backoff delay is 0 with random() = 0
    await back;
    expect(refused).toEqual([]);
    expect(sim.tokensIssued).toBe(2);
  });

  it('treats a server that sends no ping or data for twice the ping interval as dead and reconnects', async () => {
    const timers = new FakeClock();
    const sim = await startSim({ pingIntervalMs: 0 });
    const h = makeClient(sim.url, { serverPingIntervalMs: 1000 }, { clock: timers, random: () => 0 });
    await started(h);
    await h.client.acquire(MACHINES);
    timers.advance(1500);
    sim.publish({ Type: 'machines', Action: 'create', Key: 'm1' });
    await h.publisher.waitForCount(1); // activity at 1.5 s pushes the deadline to 3.5 s
    timers.advance(1999);
    expect(h.client.state().connected).toBe(true);
    const down = disconnected(h);
    timers.advance(1);
    await down;
    expect(h.client.state().lastError).toMatch(/no ping or data/);
    const back = connected(h);
    timers.advance(0);
    await back;
    await waitUntil(sim, 'command', () => sim.totalRegistrations() === 1);
    expect(sim.connections()).toHaveLength(1);
  });

  it('gives up waiting for an ack after ackTimeoutMs and never sends a duplicate register', async () => {
    const timers = new FakeClock();
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 }); // accepts anything, never acks
    wsServers.push(server);
    await new Promise((resolve) => server.once('listening', resolve));
    const received: string[] = [];
    const messages = new EventEmitter();
    server.on('connection', (ws) =>
      ws.on('message', (data) => {
        received.push(data.toString());
        messages.emit('message');
      }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const h = makeClient(url, { username: undefined, password: undefined, token: 't', ackTimeoutMs: 1000 }, { clock: timers });
    await started(h);

    const firstSent = waitFor(messages, 'message');
    const first = h.client.acquire(MACHINES);
    await firstSent;
    timers.advance(1000);
    await expect(first).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(h.client.state().lastError).toMatch(/no acknowledgement of register machines\.\*\.\*/);

    const second = h.client.acquire(MACHINES);
    timers.advance(1000);
    await expect(second).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await h.client.release(MACHINES);
    const deregisterSent = waitFor(messages, 'message');
    const released = h.client.release(MACHINES);
    await deregisterSent;
    timers.advance(1000);
    await released; // resolves without an ack
    expect(received).toEqual(['register machines.*.*', 'deregister machines.*.*']);
  });

  it.each([
    ['insecure: true', (): TlsOptions => ({ insecure: true })],
    ['the certificate as ca', (cert: string): TlsOptions => ({ ca: cert })],
  ])('connects over TLS to the self-signed simulator with %s', async (_name, tls) => {
    const sim = await startSim({ tls: true });
    const h = makeClient(sim.url, {}, { tls: tls(sim.certificate!.cert) });
    await started(h);
    await h.client.acquire(MACHINES);
    sim.publish({ Type: 'machines', Action: 'create', Key: 'tls' });
    await h.publisher.waitForCount(1);
    expect(h.publisher.events[0]?.key).toBe('tls');
  });

  it('refuses the self-signed certificate without ca or insecure', async () => {
    const sim = await startSim({ tls: true });
    const h = makeClient(sim.url);
    const warned = waitFor(h.signals, 'warn');
    h.client.start();
    await warned;
    expect(h.client.state()).toMatchObject({ connected: false, lastErrorCode: 'UPSTREAM_UNAVAILABLE' });
    expect(h.client.state().lastError).toMatch(/CERT|certificate/i);
  });

  it('keeps registrations in step with bus subscribers through the bridge', async () => {
    const sim = await startSim();
    const commands = recordCommands(sim);
    const bus = new EventBus();
    const h = makeClient(sim.url, {}, { events: bus });
    const stop = bridgeBusToDrp(bus, h.client);
    await started(h);

    const registered = waitFor(sim, 'command');
    const drpSub = bus.subscribe({ pattern: MACHINES, sources: ['DRP'] });
    bus.subscribe({ sources: ['ABIQUO'] }); // not for DRP: no registration
    bus.subscribe({ providers: ['other-drp'] }); // another provider: no registration
    await registered;
    const next = drpSub.next();
    sim.publish({ Type: 'machines', Action: 'create', Key: 'm1' });
    const { value } = (await next) as IteratorYieldResult<GatewayEvent>;
    expect(value).toMatchObject({ id: expect.any(String), source: 'DRP', provider: 'drp1', key: 'm1' });

    const deregistered = waitFor(sim, 'command');
    await drpSub.return?.();
    await deregistered;
    expect(commands.map((c) => c.text)).toEqual(['register machines.*.*', 'deregister machines.*.*']);
    stop();
    bus.close();
  });

  it('rejects acquire after close', async () => {
    const h = makeClient('http://127.0.0.1:9');
    await h.client.close();
    await expect(h.client.acquire(MACHINES)).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });
});
