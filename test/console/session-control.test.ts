/**
 * Live session control through GraphQL and the console WebSocket: consoleSessions lists live and
 * ended sessions, terminateConsoleSession closes a browser with 4013 and publishes
 * consoles.terminated.<vm id>, a second terminate answers NOT_FOUND (SESSION_ENDED), and only the
 * consoles.admin permission may terminate or see other callers' sessions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket, { createWebSocketStream } from 'ws';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { RfbTestClient } from '../rfb/rfb-test-client.js';
import { AUDIENCE, ISSUER, JWT_SECRET, hsToken } from '../auth/helpers.js';
import { postGraphQL, startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { collect as collectSubscription } from '../helpers/subscriptions.js';
import { closed, mustOpen } from '../helpers/ws.js';

let env: TowerGateway | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.dispose();
  client = undefined;
  await env?.close();
  env = undefined;
});

const OPEN = 'mutation($id: ID!, $viewOnly: Boolean) { openConsole(vmId: $id, viewOnly: $viewOnly) { url sessionId } }';
const LIST = `query($filter: ConsoleSessionFilter) { consoleSessions(filter: $filter) {
  id vmId caller viewOnly state startedAt endedAt bytesFromBrowser bytesToBrowser recordingId closeCode closeReason } }`;
const TERMINATE = 'mutation($id: ID!) { terminateConsoleSession(id: $id) { id state closeCode closeReason } }';

async function openRfb(url: string): Promise<{ ws: WebSocket; rfb: RfbTestClient }> {
  const ws = await mustOpen(url);
  return { ws, rfb: await RfbTestClient.handshake(createWebSocketStream(ws)) };
}

describe('console session control', () => {
  it('lists a live session under the id its ConsoleAccess carried, terminates it with 4013 and consoles.terminated, and answers SESSION_ENDED the second time', async () => {
    env = await startTowerGateway();
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    const vmId = `tower:${vm.id}`;
    client = createClient({ url: `${env.gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const events = collectSubscription(client, 'subscription { events(filter: { sources: [GATEWAY], pattern: "consoles.*.*" }) { type action key principal object } }');

    const opened: any = await env.gql(OPEN, { id: vmId, viewOnly: true });
    expect(opened.errors).toBeUndefined();
    const { url, sessionId } = opened.data.openConsole;
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(url).not.toContain(sessionId);
    const { ws } = await openRfb(url);
    await events.until(1); // consoles.opened

    const live: any = await env.gql(LIST, { filter: { state: 'LIVE' } });
    expect(live.errors).toBeUndefined();
    expect(live.data.consoleSessions).toHaveLength(1);
    const s = live.data.consoleSessions[0];
    expect(s).toMatchObject({ id: sessionId, vmId, caller: 'anonymous', viewOnly: true, state: 'LIVE', endedAt: null, recordingId: null, closeCode: null, closeReason: null });
    expect(s.bytesFromBrowser).toBeGreaterThan(0); // the handshake
    expect(s.bytesToBrowser).toBeGreaterThan(0);
    expect(Date.parse(s.startedAt)).not.toBeNaN();

    const closing = closed(ws);
    const done: any = await env.gql(TERMINATE, { id: sessionId });
    expect(done.errors).toBeUndefined();
    expect(done.data.terminateConsoleSession).toMatchObject({ id: sessionId, closeCode: 4013, closeReason: 'terminated by an operator' });
    expect(await closing).toEqual({ code: ConsoleCloseCode.TerminatedByOperator, reason: 'terminated by an operator' });

    await events.until(3); // opened, terminated, closed
    const actions = events.received.map((r) => r.data.events);
    const terminated = actions.find((e) => e.action === 'terminated');
    expect(terminated).toMatchObject({ type: 'consoles', key: vmId, principal: 'anonymous' });
    expect(terminated.object).toMatchObject({ sessionId, terminatedBy: 'anonymous', closeCode: 4013 });
    expect(actions.find((e) => e.action === 'closed').object).toMatchObject({ sessionId, closeCode: 4013 });

    const ended: any = await env.gql(LIST, { filter: { state: 'ENDED', vmId } });
    expect(ended.data.consoleSessions).toHaveLength(1);
    expect(ended.data.consoleSessions[0]).toMatchObject({ id: sessionId, state: 'ENDED', closeCode: 4013, closeReason: 'terminated by an operator' });
    expect(ended.data.consoleSessions[0].endedAt).not.toBeNull();

    const again: any = await env.gql(TERMINATE, { id: sessionId });
    expect(again.data).toBeNull();
    expect(again.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'SESSION_ENDED', sessionId, closeCode: 4013 });
    const unknown: any = await env.gql(TERMINATE, { id: 'no-such-session' });
    expect(unknown.errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'SESSION_UNKNOWN' });
  });

  it('shows a caller only its own sessions, refuses it terminate, and lets a consoles.admin key see and end them', async () => {
    const userKey = 'cgk_user-key-aaaaaaaaaaaaaaaaaaaaaaaaaa';
    const opsKey = 'cgk_ops-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
    env = await startTowerGateway({
      config: {
        auth: {
          mode: 'apiKey',
          apiKeys: [
            { name: 'user', hash: hashApiKey(userKey) },
            { name: 'ops', hash: hashApiKey(opsKey), permissions: ['consoles.admin'] },
          ],
        },
      },
    });
    const as = (key: string) => (query: string, variables?: Record<string, unknown>) => postGraphQL<any>(env!.gateway.url, query, variables, { 'x-api-key': key });
    const user = as(userKey);
    const ops = as(opsKey);
    const vm = env.sim.listVms().find((v) => v.name === 'web-01')!;
    const vmId = `tower:${vm.id}`;

    const mine: any = await user(OPEN, { id: vmId });
    const theirs: any = await ops(OPEN, { id: vmId });
    const userConsole = await openRfb(mine.data.openConsole.url);
    await openRfb(theirs.data.openConsole.url);

    const userList: any = await user(LIST);
    expect(userList.data.consoleSessions.map((s: any) => s.id)).toEqual([mine.data.openConsole.sessionId]);
    const peek: any = await user(LIST, { filter: { caller: 'apikey:ops' } });
    expect(peek.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'consoles.admin' });
    const refused: any = await user(TERMINATE, { id: mine.data.openConsole.sessionId });
    expect(refused.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'consoles.admin' });

    const all: any = await ops(LIST);
    expect(new Set(all.data.consoleSessions.map((s: any) => s.caller))).toEqual(new Set(['apikey:user', 'apikey:ops']));
    const onlyUser: any = await ops(LIST, { filter: { caller: 'apikey:user' } });
    expect(onlyUser.data.consoleSessions.map((s: any) => s.id)).toEqual([mine.data.openConsole.sessionId]);

    // The refused terminate left the user's console working; the admin's ends it.
    const closing = closed(userConsole.ws);
    const done: any = await ops(TERMINATE, { id: mine.data.openConsole.sessionId });
    expect(done.errors).toBeUndefined();
    expect((await closing).code).toBe(ConsoleCloseCode.TerminatedByOperator);
  });

  it('takes consoles.admin from a JWT permissions claim, and grants nothing for a token without it', async () => {
    env = await startTowerGateway({ config: { auth: { mode: 'jwt', jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } } } });
    const admin = await hsToken({ sub: 'ops', providers: '*', permissions: 'consoles.admin' });
    const plain = await hsToken({ sub: 'dev', providers: '*', permissions: ['consoles.superuser'] });
    const ask = (token: string) => postGraphQL<any>(env!.gateway.url, LIST, { filter: { caller: 'jwt:someone' } }, { authorization: `Bearer ${token}` });
    const allowed: any = await ask(admin);
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data.consoleSessions).toEqual([]);
    const refused: any = await ask(plain);
    expect(refused.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'consoles.admin' });
    const terminate: any = await postGraphQL<any>(env.gateway.url, TERMINATE, { id: 'x' }, { authorization: `Bearer ${plain}` });
    expect(terminate.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});
