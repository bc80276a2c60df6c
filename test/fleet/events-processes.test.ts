/** Two gateway processes on one Redis: an event born in one reaches a subscriber of the other, who resumes there with `after`. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startDrpSimulator, type DrpSimulator } from '../../src/simulators/drp/index.js';
import { spawnGateway, type GatewayProcess } from '../observability/child.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { collect, roundTrip } from '../helpers/subscriptions.js';
import { eventsOf, eventually } from './events-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cg-fleet-events-'));
let redis: RedisServer | undefined;
let drp: DrpSimulator | undefined;
const children: GatewayProcess[] = [];
const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  for (const c of children) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await drp?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(name: string, providers: unknown[]): Promise<string> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ server: { port: 0 }, log: { level: 'info' }, providers, redis: { url: redis!.url, keyPrefix: 'procs:' } }));
  const child = spawnGateway(['--config', file]);
  children.push(child);
  return (await child.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*console-gateway listening/))[1]!;
}

const UPSTREAM_EVENTS = 'subscription($after: ID) { events(filter: { sources: [GATEWAY], pattern: "upstreams.*.drp-lab" }, after: $after) { id type action key } }';

describe('fleet events between gateway processes', () => {
  it("delivers A's upstream events to a subscriber on B, and resumes that subscriber on B with after", async () => {
    redis = await startRedisServer();
    drp = await startDrpSimulator();
    const drpPort = Number(new URL(drp.url).port);
    const [, b] = await Promise.all([
      start('a', [{ name: 'drp-lab', kind: 'drp', url: drp.url, username: 'rocketskates', password: 'r0cketsk8ts', reconnect: { initialMs: 50, maxMs: 100 } }]),
      start('b', [{ name: 'tower', kind: 'cloudtower', url: 'http://127.0.0.1:9', username: 'u', password: 'p' }]),
    ]);
    const client = (): Client => {
      const c = createClient({ url: `${b.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
      clients.push(c);
      return c;
    };
    // A reaches DRP in the background after it listens: wait for it, so closing DRP disconnects it.
    await eventually(() => drp!.connections().length > 0, 'A connected to DRP');
    // A witness that stays connected: when it has an event, that event is in the stream.
    const witnessClient = client();
    const witness = collect(witnessClient, UPSTREAM_EVENTS);
    await roundTrip(witnessClient);
    const first = client();
    const sub = collect(first, UPSTREAM_EVENTS);
    await roundTrip(first);
    await drp.close();
    // The subscribers may also get A's first `connected` (it can reach B after they subscribed): cut at the disconnect.
    await eventually(() => eventsOf(sub.received).some((e) => e.action === 'disconnected'), 'the first subscriber saw the disconnect');
    const cutAt = eventsOf(sub.received).find((e) => e.action === 'disconnected')!;
    expect(cutAt).toMatchObject({ type: 'upstreams', action: 'disconnected', key: 'drp-lab' });
    await first.dispose();

    // The witness may also hold A's first `connected` (A reaches DRP in the background after it
    // listens): count from the event the first subscriber was cut at.
    await eventually(() => eventsOf(witness.received).some((e) => e.id === cutAt.id), 'the witness has the event the subscriber was cut at');
    const base = eventsOf(witness.received).findIndex((e) => e.id === cutAt.id);
    expect(base).toBeGreaterThanOrEqual(0);
    // Missed while away: A reconnects to a DRP back on the same port.
    drp = await startDrpSimulator({ port: drpPort });
    await witness.until(base + 2);
    const resumed = collect(client(), UPSTREAM_EVENTS, { after: cutAt.id });
    await resumed.until(1);
    expect(eventsOf(resumed.received)[0]).toMatchObject({ type: 'upstreams', action: 'connected', key: 'drp-lab' });
    // Then live.
    await drp.close();
    await resumed.until(2);
    await witness.until(base + 3);
    expect(eventsOf(resumed.received)).toEqual(eventsOf(witness.received).slice(base + 1));
  });
});
