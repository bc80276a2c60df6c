/** Idle sweep and ping timeout: one shared interval, driven here with fake setInterval and a fake clock. */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { Cleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { collect, startConsoleEndpoint, startTcpServer, tcpTarget, useFakeTicker } from './helpers.js';

const cleanups = new Cleanups();
const clients = cleanups.sockets;
const clock = useFakeTicker(cleanups);

async function setup(limits: { idleTimeoutMs: number; pingIntervalMs: number }) {
  const echo = await startTcpServer();
  cleanups.add(() => echo.close());
  const gw = await startConsoleEndpoint({ target: tcpTarget(echo.port), limits, now: clock.now });
  cleanups.add(() => gw.close());
  return gw;
}

async function echoes(ws: WebSocket): Promise<void> {
  const payload = randomBytes(16);
  const got = collect(ws, payload.length);
  ws.send(payload);
  expect((await got).equals(payload)).toBe(true);
}

describe('console endpoint: idle sweep', () => {
  it('closes with 4004 after idleTimeoutMs without bytes, and not before', async () => {
    // Without pings the sweep ticks every idleTimeout/4 (min 1 s).
    const gw = await setup({ idleTimeoutMs: 8_000, pingIntervalMs: 0 });
    const tick = 2_000;
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await echoes(ws);

    clock.ms = 1_000;
    vi.advanceTimersByTime(tick); // sees the bytes: active at 1_000
    clock.ms = 8_999;
    vi.advanceTimersByTime(tick); // idle 7_999 ms: still open
    await echoes(ws);

    clock.ms = 9_000;
    vi.advanceTimersByTime(tick); // sees new bytes: active at 9_000
    const closing = closed(ws);
    clock.ms = 17_000;
    vi.advanceTimersByTime(tick); // idle 8_000 ms
    expect(await closing).toEqual({ code: ConsoleCloseCode.IdleTimeout, reason: 'idle timeout' });
  });
});

describe('console endpoint: pings', () => {
  it('closes with 4005 a client that does not answer a ping before the next one', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 1_000 });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { autoPong: false, track: clients });
    await echoes(ws); // piping: the gateway reads the browser (and its pongs) from here on
    const pinged = once(ws, 'ping');
    vi.advanceTimersByTime(1_000);
    await pinged;
    const closing = closed(ws);
    vi.advanceTimersByTime(1_000);
    expect((await closing).code).toBe(ConsoleCloseCode.PingTimeout);
    const summary = await gw.nextClosed();
    expect(summary.closeCode).toBe(ConsoleCloseCode.PingTimeout);
  });

  it('keeps a client that answers every ping', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 1_000 });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await echoes(ws);
    for (let i = 0; i < 4; i++) {
      const pinged = once(ws, 'ping');
      vi.advanceTimersByTime(1_000);
      await pinged;
      // The pong went out before this message, on the same connection: once the echo is back,
      // the gateway has read the pong.
      await echoes(ws);
    }
    expect(gw.endpoint.sessions()).toBe(1);
    await echoes(ws);
  });

  it('cuts off a peer that never completes the close handshake one tick later', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 1_000 });
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { autoPong: false, track: clients });
    await echoes(ws);
    // A frozen browser: reads nothing more, so it never answers the close frame either.
    const pinged = once(ws, 'ping');
    vi.advanceTimersByTime(1_000);
    await pinged;
    ws.pause();
    vi.advanceTimersByTime(1_000); // ping timeout: close frame sent
    const ended = gw.nextClosed();
    vi.advanceTimersByTime(1_000);
    vi.advanceTimersByTime(1_000); // second tick after the close: terminated
    expect((await ended).closeCode).toBe(ConsoleCloseCode.PingTimeout);
    expect(gw.endpoint.sessions()).toBe(0);
  });
});
