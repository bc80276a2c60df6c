/**
 * The README's Apollo Client 4 and urql snippets (examples/), run in Node against a running gateway:
 * every ticket they get opens a console (the VNC simulator's `RFB 003.008` greeting arrives), the
 * documented cache policies give a fresh ticket per call (and the default policies would not), and
 * Apollo's errorPolicy 'all' keeps the data beside a failing root field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from '@apollo/client';
import { gql as urqlGql } from '@urql/core';
import type WebSocket from 'ws';
import * as apollo from '../../examples/apollo-client.js';
import * as urql from '../../examples/urql.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { mustOpen, openWs } from '../helpers/ws.js';

let env: TowerGateway;
let vmId: string;
const sockets = new Set<WebSocket>();

beforeAll(async () => {
  // Every test here mints several tickets as one anonymous caller: more than the default burst of 10.
  env = await startTowerGateway({ config: { server: { host: '127.0.0.1', port: 0 }, limits: { ticketBurst: 100 } } });
  vmId = `tower:${env.sim.listVms()[0]!.id}`;
});
afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await env.close();
});

/** Opens the console URL and resolves with the first bytes the VM's console sends (its RFB version). */
async function rfbGreeting(url: string, protocols: string[] = ['binary']): Promise<string> {
  const ws = await mustOpen(url, { protocols, track: sockets });
  const first = await new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
  ws.close();
  return first.subarray(0, 12).toString('latin1');
}

/** A second use of a URL: the ticket was single-use. */
async function spent(url: string): Promise<boolean> {
  const r = await openWs(url, { track: sockets });
  if (r.ok) r.ws.close();
  return !r.ok && r.status === 403 && r.body.startsWith('TICKET_USED');
}

describe('Apollo Client 4 (HttpLink, fetch)', () => {
  it('two openConsole mutations for one VM give two tickets that both open the console', async () => {
    const client = apollo.createClient(env.gateway.url);
    const a = await apollo.openConsole(client, vmId);
    const b = await apollo.openConsole(client, vmId);
    expect(a.url).not.toBe(b.url);
    expect(await rfbGreeting(a.url, a.protocols)).toBe('RFB 003.008\n');
    expect(await rfbGreeting(b.url, b.protocols)).toBe('RFB 003.008\n');
  });

  it("consoleUrl with fetchPolicy 'no-cache' gives a fresh working ticket each time; the default cache-first a spent one", async () => {
    const client = apollo.createClient(env.gateway.url);
    const a = (await apollo.consoleUrl(client, vmId))!;
    const b = (await apollo.consoleUrl(client, vmId))!;
    expect(a).not.toBe(b);
    expect(await rfbGreeting(a)).toBe('RFB 003.008\n');
    expect(await rfbGreeting(b)).toBe('RFB 003.008\n');

    // Why the policy matters: with the default, the second ask is answered from the cache.
    const query = gql`query ConsoleUrl($vmId: ID!) { consoleUrl(vmId: $vmId) }`;
    const first = (await client.query<{ consoleUrl: string }>({ query, variables: { vmId } })).data!.consoleUrl;
    expect(await rfbGreeting(first)).toBe('RFB 003.008\n');
    const again = (await client.query<{ consoleUrl: string }>({ query, variables: { vmId } })).data!.consoleUrl;
    expect(again).toBe(first);
    expect(await spent(again)).toBe(true);
  });

  it("errorPolicy 'all' keeps vms beside the error of consoleUrl for a bad id, with its extensions.code", async () => {
    const client = apollo.createClient(env.gateway.url);
    const result = await apollo.vmsAndConsole(client, 'tower:no-such-vm');
    expect(result.vms.length).toBe(env.sim.listVms().length);
    expect(result.consoleUrl).toBeNull();
    expect(result.codes).toEqual(['NOT_FOUND']);
  });
});

describe('urql (@urql/core)', () => {
  it('two openConsole mutations for one VM give two tickets that both open the console', async () => {
    const client = urql.createClient(env.gateway.url);
    const a = await urql.openConsole(client, vmId);
    const b = await urql.openConsole(client, vmId);
    expect(a.url).not.toBe(b.url);
    expect(await rfbGreeting(a.url, a.protocols)).toBe('RFB 003.008\n');
    expect(await rfbGreeting(b.url, b.protocols)).toBe('RFB 003.008\n');
  });

  it("consoleUrl with requestPolicy 'network-only' gives a fresh working ticket each time; the default cache-first a spent one", async () => {
    const client = urql.createClient(env.gateway.url);
    const a = (await urql.consoleUrl(client, vmId))!;
    const b = (await urql.consoleUrl(client, vmId))!;
    expect(a).not.toBe(b);
    expect(await rfbGreeting(a)).toBe('RFB 003.008\n');
    expect(await rfbGreeting(b)).toBe('RFB 003.008\n');

    // Why the policy matters: 'network-only' still writes urql's document cache, so the default
    // 'cache-first' answers the same question with the last ticket, already used above.
    const query = urqlGql`query ConsoleUrl($vmId: ID!) { consoleUrl(vmId: $vmId) }`;
    const cached = (await client.query<{ consoleUrl: string }>(query, { vmId }).toPromise()).data!.consoleUrl;
    expect(cached).toBe(b);
    expect(await spent(cached)).toBe(true);
  });
});
