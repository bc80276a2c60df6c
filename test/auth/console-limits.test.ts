import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { systemClock, type Clock } from '../../src/clock.js';
import { validateConfig } from '../../src/config.js';
import { nextConsoleEvent, startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { graphqlPost } from '../helpers/graphql.js';
import { closed, openWs } from '../helpers/ws.js';
import { newKey } from './helpers.js';

let env: TowerGateway | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await env?.close();
  env = undefined;
});

const alice = newKey();
const bob = newKey();
const auth = { mode: 'apiKey', apiKeys: [{ name: 'alice', hash: alice.hash, providers: ['tower'] }, { name: 'bob', hash: bob.hash }] };

async function consoleUrl(t: TowerGateway, key: { key: string }, vmIndex = 0): Promise<{ url?: string; error?: Record<string, unknown> }> {
  const vm = t.sim.listVms()[vmIndex]!;
  const res = await graphqlPost(t.gateway.url, `{ consoleUrl(vmId: "tower:${vm.id}") }`, { headers: { 'x-api-key': key.key } });
  return res.body.data?.consoleUrl ? { url: res.body.data.consoleUrl as string } : { error: res.body.errors?.[0]?.extensions as Record<string, unknown> };
}

async function openConsole(url: string): Promise<Awaited<ReturnType<typeof openWs>>> {
  const r = await openWs(url, { protocols: ['binary'] });
  if (r.ok) sockets.push(r.ws);
  return r;
}

/** Time stands still for the minting budget: no token comes back between two requests. */
const frozenClock: Clock = { ...systemClock, now: () => Date.parse('2030-01-01T00:00:00Z') };

describe('ticket minting rate limit', () => {
  it('allows the burst per caller, then RATE_LIMITED with retryAfterSeconds; other callers are not affected', async () => {
    env = await startTowerGateway({ config: { auth, limits: { ticketBurst: 2, ticketsPerMinute: 1 } }, clock: frozenClock });
    expect((await consoleUrl(env, alice)).url).toBeDefined();
    expect((await consoleUrl(env, alice)).url).toBeDefined();
    const limited = await consoleUrl(env, alice);
    expect(limited.error).toMatchObject({ code: 'RATE_LIMITED' });
    // One ticket a minute and none left: the next one is exactly a minute away.
    expect(limited.error?.retryAfterSeconds).toBe(60);
    expect((await consoleUrl(env, bob)).url).toBeDefined();
  });

  it('does not apply per-caller budgets to anonymous callers (auth.mode none: everyone is "anonymous")', async () => {
    env = await startTowerGateway({ config: { auth: { mode: 'none' }, limits: { ticketBurst: 1, ticketsPerMinute: 1 } } });
    expect((await consoleUrl(env, { key: 'ignored' })).url).toBeDefined();
    expect((await consoleUrl(env, { key: 'ignored' })).url).toBeDefined();
  });
});

describe('concurrent console caps', () => {
  it('refuses a caller over maxConsolesPerCaller with 429 CONSOLE_LIMIT_CALLER; others still get in', async () => {
    env = await startTowerGateway({ config: { auth, limits: { maxConsolesPerCaller: 1 } } });
    const first = await openConsole((await consoleUrl(env, alice, 0)).url!);
    expect(first).toHaveProperty('ok', true);
    expect(await openConsole((await consoleUrl(env, alice, 1)).url!)).toMatchObject({ ok: false, status: 429, body: 'CONSOLE_LIMIT_CALLER\n' });
    expect(await openConsole((await consoleUrl(env, bob, 1)).url!)).toHaveProperty('ok', true);
    // Once alice's console ends her slot is free again.
    const ended = nextConsoleEvent(env, 'closed');
    if (first.ok) first.ws.close(1000);
    await ended;
    expect(await openConsole((await consoleUrl(env, alice, 2)).url!)).toHaveProperty('ok', true);
  });

  it('refuses anyone over maxConsoles with 429 CONSOLE_LIMIT_GLOBAL, without spending the ticket', async () => {
    env = await startTowerGateway({ config: { auth, limits: { maxConsoles: 1 } } });
    const first = await openConsole((await consoleUrl(env, alice, 0)).url!);
    expect(first).toHaveProperty('ok', true);
    const waiting = (await consoleUrl(env, bob, 1)).url!;
    expect(await openConsole(waiting)).toMatchObject({ ok: false, status: 429, body: 'CONSOLE_LIMIT_GLOBAL\n' });
    const ended = nextConsoleEvent(env, 'closed');
    if (first.ok) first.ws.close(1000);
    await ended;
    // The same URL works now: the refusal did not use the ticket up.
    expect(await openConsole(waiting)).toHaveProperty('ok', true);
  });
});

describe('tickets are bound to the caller that minted them', () => {
  it('records the caller in the session audit line and the consoles.opened event', async () => {
    env = await startTowerGateway({ config: { auth } });
    const opened = nextConsoleEvent(env, 'opened');
    const r = await openConsole((await consoleUrl(env, alice)).url!);
    expect((await opened).object).toMatchObject({ caller: 'apikey:alice' });
    const ended = nextConsoleEvent(env, 'closed');
    if (r.ok) {
      const code = closed(r.ws);
      r.ws.close(1000);
      await code;
    }
    await ended;
    const audit = env.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'console session');
    expect(audit).toMatchObject({ caller: 'apikey:alice', provider: 'tower' });
    expect(env.logs.text()).not.toContain(alice.key);
  });

  it('rechecks the caller at redemption: a ticket minted by a key that a reload removed is refused with 403', async () => {
    env = await startTowerGateway({ config: { auth } });
    const url = (await consoleUrl(env, alice)).url!;
    const current = env.gateway.config();
    const next = validateConfig({ ...current, auth: { mode: 'apiKey', apiKeys: [{ name: 'bob', hash: bob.hash }] } });
    await env.gateway.reload(next);
    expect(await openConsole(url)).toMatchObject({ ok: false, status: 403, body: 'CALLER_FORBIDDEN\n' });
    expect((await consoleUrl(env, alice)).error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

