import { once } from 'node:events';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloseCode } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { TicketErrorCode, TicketService } from '../src/console/tickets.js';
import { ErrorCode } from '../src/errors.js';
import {
  ConsoleCloseCode,
  GraphqlWsCloseCode,
  UpgradeRefusal,
  UpgradeRefusalCode,
  closeReason,
  graphqlWsCloseReason,
  isSendableCloseCode,
  refuseUpgrade,
} from '../src/websocket-codes.js';
import { startConsoleEndpoint, type TestConsoleEndpoint } from './console/helpers.js';

const refusals = Object.entries(UpgradeRefusal);
const RFC6455_MAX_REASON_BYTES = 123;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Raw HTTP upgrade, so the test sees exactly the bytes the gateway wrote and when it closed. */
async function rawUpgrade(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end(request);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('utf8');
}

function upgradeRequest(path: string, key = 'dGhlIHNhbXBsZSBub25jZQ=='): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

describe('the WebSocket close and refusal catalogue', () => {
  it('gives every close code one meaning per endpoint, a sendable number and a reason a close frame can carry', () => {
    const console = Object.values(ConsoleCloseCode);
    expect(new Set(console).size).toBe(console.length);
    for (const code of console) {
      // 1006 is what the audit line records when the TCP connection dropped: never put on the wire.
      if (code !== ConsoleCloseCode.Abnormal) expect(isSendableCloseCode(code), `console ${code}`).toBe(true);
      expect(closeReason[code], `reason for ${code}`).toBeTruthy();
      expect(Buffer.byteLength(closeReason[code])).toBeLessThanOrEqual(RFC6455_MAX_REASON_BYTES);
    }
    expect(isSendableCloseCode(ConsoleCloseCode.Abnormal)).toBe(false);

    const graphql = Object.values(GraphqlWsCloseCode);
    expect(new Set(graphql).size).toBe(graphql.length);
    for (const code of graphql) expect(isSendableCloseCode(code), `graphql-ws ${code}`).toBe(true);
    for (const reason of Object.values(graphqlWsCloseReason)) expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(RFC6455_MAX_REASON_BYTES);
  });

  it('keeps the numbers clients depend on', () => {
    expect(ConsoleCloseCode).toMatchObject({ Normal: 1000, GoingAway: 1001, UnsupportedData: 1003, MessageTooBig: 1009, InternalError: 1011 });
    expect([4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009, 4010, 4011, 4012, 4013, 4014, 4015].every((c) => Object.values(ConsoleCloseCode).includes(c as ConsoleCloseCode))).toBe(true);
    // graphql-ws's own numbers, taken from the library rather than retyped.
    expect(GraphqlWsCloseCode.Unauthorized).toBe(CloseCode.Unauthorized);
    expect([GraphqlWsCloseCode.Unauthorized, GraphqlWsCloseCode.Forbidden, GraphqlWsCloseCode.TooManyConnections, GraphqlWsCloseCode.ConnectionInitTimeout]).toEqual([4401, 4403, 4429, 4408]);
  });

  it('gives every refusal a unique code and an HTTP error status', () => {
    const codes = refusals.map(([, r]) => r.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, refusal] of refusals) {
      expect(refusal.code, name).toMatch(/^[A-Z][A-Z_]*$/);
      expect(refusal.status, name).toBeGreaterThanOrEqual(400);
      expect(refusal.status, name).toBeLessThan(600);
      expect(UpgradeRefusalCode[name as keyof typeof UpgradeRefusalCode]).toBe(refusal.code);
    }
  });

  it('produces every refusal somewhere in the gateway', () => {
    const sources = sourceFiles(fileURLToPath(new URL('../src', import.meta.url)))
      .filter((path) => !path.endsWith('websocket-codes.ts'))
      .map((path) => readFileSync(path, 'utf8'))
      .join('\n');
    const ticketKeys = new Map<string, string>(Object.entries(TicketErrorCode).map(([key, code]) => [code, key]));
    for (const [name, refusal] of refusals) {
      const ticketKey = ticketKeys.get(refusal.code);
      const produced = ticketKey
        ? sources.includes(`new TicketError(TicketErrorCode.${ticketKey}`)
        : new RegExp(`\\bUpgradeRefusal(Code)?\\.${name}\\b`).test(sources);
      expect(produced, `${name} (${refusal.code}) is never produced`).toBe(true);
    }
  });

  it('has one list of error codes, each unique', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe('refuseUpgrade', () => {
  let server: Server | undefined;
  let gateway: TestConsoleEndpoint | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  });

  it('writes the status line, no-store headers and the code as the body, then closes the connection', async () => {
    server = createServer();
    server.on('upgrade', (_req, socket) => refuseUpgrade(socket, UpgradeRefusal.PathNotFound));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const response = await rawUpgrade((server.address() as AddressInfo).port, upgradeRequest('/nowhere'));
    expect(response).toBe(
      'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: 15\r\n\r\nPATH_NOT_FOUND\n',
    );
  });

  it('refuses a handshake ws would refuse with 400 BAD_WEBSOCKET_HANDSHAKE, before a ticket is looked at', async () => {
    gateway = await startConsoleEndpoint({});
    const port = Number(new URL(gateway.url).port);
    const response = await rawUpgrade(port, upgradeRequest('/websockify', 'not-a-key'));
    expect(response.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(response.endsWith('\r\n\r\nBAD_WEBSOCKET_HANDSHAKE\n')).toBe(true);
  });

  it('answers 500 INTERNAL_ERROR when redeeming a ticket fails unexpectedly', async () => {
    const tickets = new TicketService();
    tickets.redeem = () => Promise.reject(new Error('store unreachable'));
    gateway = await startConsoleEndpoint({ tickets });
    const port = Number(new URL(gateway.url).port);
    const response = await rawUpgrade(port, upgradeRequest(`/websockify?ticket=${'a'.repeat(43)}`));
    expect(response.split('\r\n')[0]).toBe('HTTP/1.1 500 Internal Server Error');
    expect(response.endsWith('\r\n\r\nINTERNAL_ERROR\n')).toBe(true);
  });
});
