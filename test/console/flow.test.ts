/** Flow control and connection churn: the properties that keep gateway memory bounded. */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { ConsoleSessionEvent } from '../../src/console/endpoint.js';
import type { ResolvedTarget } from '../../src/console/session.js';
import { mustOpen } from '../helpers/ws.js';
import { Cleanups, startConsoleEndpoint, startTcpServer, startWsEcho, tcpTarget, wsTarget } from './helpers.js';

const cleanups = new Cleanups();
const clients = new Set<WebSocket>();
afterEach(async () => {
  for (const c of clients) c.terminate();
  clients.clear();
  await cleanups.run();
});

const MiB = 1024 * 1024;
/** A block whose length is a multiple of 251, so block after block continues `i mod 251`. */
const BLOCK = Buffer.from(Array.from({ length: 251 * 261 }, (_, i) => i % 251));

/** A TCP target that streams `total` bytes of the `i mod 251` pattern, honouring backpressure. */
function streamingTarget(total: number) {
  const state = {
    written: 0,
    /** Times write() returned false and the target had to wait for 'drain'. */
    drainWaits: 0,
    /** The target is blocked in a write, waiting for 'drain'. */
    waiting: false,
    /** Resolves the next time the target starts waiting for 'drain'. */
    nextDrainWait: null as null | (() => void),
  };
  const onConnection = (socket: Socket): void => {
    const pump = (): void => {
      while (state.written < total) {
        const n = Math.min(BLOCK.length, total - state.written);
        state.written += n;
        if (!socket.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
          state.drainWaits++;
          state.waiting = true;
          const w = state.nextDrainWait;
          state.nextDrainWait = null;
          w?.();
          socket.once('drain', () => {
            state.waiting = false;
            pump();
          });
          return;
        }
      }
      socket.end();
    };
    pump();
  };
  /** Resolves once the target is blocked on backpressure (at once if it already is). */
  const waitForDrainWait = (): Promise<void> =>
    state.waiting ? Promise.resolve() : new Promise((resolve) => (state.nextDrainWait = resolve));
  return { state, onConnection, waitForDrainWait };
}

describe('console endpoint: backpressure', () => {
  it('pauses a TCP target while the browser reads nothing, then delivers all 64 MiB in order', async () => {
    const total = 64 * MiB;
    const hwm = 1 * MiB;
    const target = streamingTarget(total);
    const tcp = await startTcpServer(target.onConnection);
    cleanups.add(() => tcp.close());
    const events: ConsoleSessionEvent[] = [];
    let pausedToClient: () => void = () => {};
    const upstreamPaused = new Promise<void>((resolve) => (pausedToClient = resolve));
    const gw = await startConsoleEndpoint({
      target: tcpTarget(tcp.port),
      limits: { highWaterMarkBytes: hwm },
      onSessionEvent: (e) => {
        events.push(e);
        if (e.type === 'backpressure' && e.direction === 'toClient' && e.paused) pausedToClient();
      },
    });
    cleanups.add(() => gw.close());

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    // The browser stops reading: its socket's receive buffer fills, then the gateway's send queue.
    ws.pause();
    let received = 0;
    let mismatch = -1;
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        for (let i = 0; i < data.length && mismatch < 0; i++) {
          if (data[i] !== (received + i) % 251) mismatch = received + i;
        }
        received += data.length;
        if (received >= total) resolve();
      });
    });

    await upstreamPaused;
    // The gateway stopped reading the target; the target's kernel buffers fill and its writes block.
    await target.waitForDrainWait();
    expect(target.state.written).toBeLessThan(total);
    const ended = gw.nextClosed();

    ws.resume();
    await done;
    expect(mismatch).toBe(-1);
    expect(received).toBe(total);
    const summary = await ended;
    expect(summary.bytesToClient).toBe(total);
    // The queue towards the browser never grew past the mark plus one read from the target.
    expect(summary.peakBufferedToClient).toBeLessThanOrEqual(hwm + 64 * 1024);
    expect(summary.closeCode).toBe(4002);
    const flow = events.filter((e) => e.type === 'backpressure');
    expect(flow.some((e) => e.type === 'backpressure' && !e.paused)).toBe(true);
  });

  it('stops reading the browser while an upstream websockify is not reading', async () => {
    const upstream = await startWsEcho();
    cleanups.add(() => upstream.close());
    const hwm = 256 * 1024;
    let pausedToUpstream: () => void = () => {};
    const clientPaused = new Promise<void>((resolve) => (pausedToUpstream = resolve));
    const gw = await startConsoleEndpoint({
      target: wsTarget(upstream),
      limits: { highWaterMarkBytes: hwm },
      onSessionEvent: (e) => {
        if (e.type === 'backpressure' && e.direction === 'toUpstream' && e.paused) pausedToUpstream();
      },
    });
    cleanups.add(() => gw.close());
    const conn = upstream.nextConnection();
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const up = await conn;
    up.pause();
    up.removeAllListeners('message');
    const received: Buffer[] = [];
    let receivedBytes = 0;
    const total = 64 * MiB;
    const all = new Promise<void>((resolve) =>
      up.on('message', (d: Buffer) => {
        received.push(d);
        receivedBytes += d.length;
        if (receivedBytes >= total) resolve();
      }),
    );
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    // Keep sending until the gateway reports it stopped reading us.
    let stop = false;
    void clientPaused.then(() => (stop = true));
    while (!stop && sent < total) {
      chunk.fill(sent / chunk.length);
      ws.send(Buffer.from(chunk));
      sent += chunk.length;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(stop).toBe(true);
    expect(sent).toBeLessThan(total);
    while (sent < total) {
      chunk.fill(sent / chunk.length);
      ws.send(Buffer.from(chunk));
      sent += chunk.length;
    }
    up.resume();
    await all;
    const joined = Buffer.concat(received);
    for (let i = 0; i < total / chunk.length; i++) expect(joined[i * chunk.length]).toBe(i & 0xff);
  });
});

describe('console endpoint: churn', () => {
  it('200 connections opened and dropped at once leave no session and no upstream socket', async () => {
    const echo = await startTcpServer();
    cleanups.add(() => echo.close());
    const gw = await startConsoleEndpoint({ target: tcpTarget(echo.port) });
    cleanups.add(() => gw.close());
    const n = 200;
    const sockets = await Promise.all(
      Array.from({ length: n }, async () => mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients })),
    );
    expect(gw.endpoint.sessions()).toBe(n);
    const all = gw.closedCount(n);
    for (const s of sockets) s.terminate();
    await all;
    expect(gw.endpoint.sessions()).toBe(0);
    // Every upstream socket gets closed (each accepted connection's 'close' has fired or will).
    await Promise.all([...echo.sockets].map((s) => (s.destroyed ? Promise.resolve() : once(s, 'close'))));
    expect(echo.sockets.size).toBe(0);
  });

  it('a browser that leaves while the target is being resolved ends the session; the late upstream is closed', async () => {
    const echo = await startTcpServer();
    cleanups.add(() => echo.close());
    let release: (t: ResolvedTarget) => void = () => {};
    const gw = await startConsoleEndpoint({ resolveTarget: () => new Promise<ResolvedTarget>((resolve) => (release = resolve)) });
    cleanups.add(() => gw.close());
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const ended = gw.nextClosed();
    ws.terminate();
    const summary = await ended;
    expect(summary.closeCode).toBe(1006);
    expect(gw.endpoint.sessions()).toBe(0);
    release(tcpTarget(echo.port));
    // start() continues in a microtask and sees the session is over: no connection is attempted.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(echo.accepted).toBe(0);
  });

  it('a browser that leaves while the upstream connects gets that upstream closed', async () => {
    const echo = await startTcpServer();
    cleanups.add(() => echo.close());
    const gw = await startConsoleEndpoint({ target: tcpTarget(echo.port) });
    cleanups.add(() => gw.close());
    const conn = echo.nextConnection();
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    const ended = gw.nextClosed();
    const sock = await conn;
    const gone = once(sock, 'close');
    ws.close(1000);
    await gone;
    expect((await ended).closeCode).toBe(1000);
    expect(gw.endpoint.sessions()).toBe(0);
  });
});

