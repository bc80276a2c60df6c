/**
 * The maximum lifetime (4014) and the input-idle timeout (4015), on the shared sweep: driven with a
 * fake setInterval and a fake clock, over a real console WebSocket and a TCP echo upstream.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { Cleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { collect, startConsoleEndpoint, startTcpServer, tcpTarget } from './helpers.js';

const cleanups = new Cleanups();
const clients = cleanups.sockets;
let clock = 0;
const now = (): number => clock;

beforeEach(() => {
  clock = 0;
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(async () => {
  vi.useRealTimers();
  await cleanups.run();
});

async function setup(limits: { idleTimeoutMs: number; pingIntervalMs: number; maxLifetimeMs?: number; inputIdleTimeoutMs?: number }) {
  const echo = await startTcpServer();
  cleanups.add(() => echo.close());
  const gw = await startConsoleEndpoint({ target: tcpTarget(echo.port), limits, now });
  cleanups.add(() => gw.close());
  return gw;
}

/** Sends `payload` and waits for the echo upstream to send it back. */
async function roundTrip(ws: WebSocket, payload: Buffer = randomBytes(16)): Promise<void> {
  const got = collect(ws, payload.length);
  ws.send(payload);
  expect((await got).equals(payload)).toBe(true);
}

/** The browser's side of an RFB 3.8 handshake with security None and a shared ClientInit. */
const HANDSHAKE = Buffer.concat([Buffer.from('RFB 003.008\n', 'latin1'), Buffer.from([1]), Buffer.from([1])]);
/** FramebufferUpdateRequest: screen traffic, not input. */
const UPDATE_REQUEST = Buffer.from([3, 1, 0, 0, 0, 0, 0, 64, 0, 48]);
/** KeyEvent: 'a' down. */
const KEY = Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61]);

describe('console sessions: maximum lifetime', () => {
  it('closes with 4014 at maxLifetimeMs, busy or not, and not before', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 0, maxLifetimeMs: 60_000 });
    const tick = 30_000; // without pings or idle timeout, the sweep ticks every 30 s
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws);
    clock = 59_999;
    vi.advanceTimersByTime(tick);
    await roundTrip(ws); // still open, and piping
    const closing = closed(ws);
    clock = 60_000;
    vi.advanceTimersByTime(tick);
    expect(await closing).toEqual({ code: ConsoleCloseCode.LifetimeExceeded, reason: 'session lifetime exceeded' });
    expect((await gw.nextClosed()).closeCode).toBe(ConsoleCloseCode.LifetimeExceeded);
  });
});

describe('console sessions: input-idle timeout', () => {
  it('closes with 4015 after inputIdleTimeoutMs without keyboard or mouse, while screen traffic keeps the byte idle timeout away', async () => {
    const gw = await setup({ idleTimeoutMs: 8_000, pingIntervalMs: 0, inputIdleTimeoutMs: 10_000 });
    const tick = 2_000; // idleTimeout / 4
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, Buffer.concat([HANDSHAKE, UPDATE_REQUEST]));

    clock = 5_000;
    vi.advanceTimersByTime(tick); // no input yet: idle for 5 s
    await roundTrip(ws, KEY); // input at ~5 s
    clock = 9_000;
    vi.advanceTimersByTime(tick); // sees the key: input at 9_000

    await roundTrip(ws, UPDATE_REQUEST);
    clock = 14_000;
    vi.advanceTimersByTime(tick); // bytes flowed: not byte-idle
    await roundTrip(ws, UPDATE_REQUEST);
    clock = 18_999;
    vi.advanceTimersByTime(tick); // 9_999 ms without input: still open
    await roundTrip(ws, UPDATE_REQUEST);

    const closing = closed(ws);
    clock = 19_000;
    vi.advanceTimersByTime(tick); // 10_000 ms without input, though bytes flowed since the last tick
    expect(await closing).toEqual({ code: ConsoleCloseCode.InputIdleTimeout, reason: 'no input' });
    expect(gw.log.records().some((r) => r.msg === 'console input idle')).toBe(true);
  });

  it('counts a key or pointer message split across WebSocket messages as input', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 0, inputIdleTimeoutMs: 40_000 });
    const tick = 30_000;
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, HANDSHAKE);
    const pointer = Buffer.from([5, 1, 0, 10, 0, 20]);
    await roundTrip(ws, pointer.subarray(0, 3));
    await roundTrip(ws, pointer.subarray(3));
    clock = 30_000;
    vi.advanceTimersByTime(tick); // sees the pointer event: input at 30_000
    clock = 60_000;
    vi.advanceTimersByTime(tick); // 30 s without input: open
    await roundTrip(ws, UPDATE_REQUEST);
    const closing = closed(ws);
    clock = 70_000;
    vi.advanceTimersByTime(tick);
    expect((await closing).code).toBe(ConsoleCloseCode.InputIdleTimeout);
  });
});
