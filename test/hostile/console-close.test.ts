/**
 * How consoles end when a peer misbehaves: a VNC server's refusal reaches the browser and the
 * audit line (sanitised, cut short), a browser that vanished while paused is found by ping, and an
 * upstream WebSocket paused by backpressure still completes its close handshake when the browser
 * goes away, so the session ends and frees its cap slot instead of lingering for `ws`'s 30 s.
 *
 * Each test: the gateway process stays up, memory stays bounded, the documented close code is
 * reported, and a healthy console (the VNC simulator) is served meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { startTcpServer, tcpTarget } from '../console/helpers.js';
import { Cleanups } from '../helpers/cleanups.js';
import { closed, mustOpen, openWs } from '../helpers/ws.js';
import {
  HEALTHY_VM,
  HOSTILE_VM,
  auditLine,
  floodFromBrowser,
  healthyConsoleServed,
  memoryBytes,
  startFloodingWebsockify,
  startRefusingVnc,
  startTwoConsoleGateway,
} from './peers/console-peers.js';

const MiB = 1024 * 1024;
const MEMORY_GROWTH_LIMIT = 64 * MiB;

const cleanups = new Cleanups();
const clients = new Set<WebSocket>();
afterEach(async () => {
  for (const c of clients) c.terminate();
  clients.clear();
  await cleanups.run();
});

describe('hostile peers when a console ends', () => {
  it("a VNC server's refusal reason reaches the browser's close frame and the audit line, sanitised and cut short", async () => {
    const password = 'hunter22';
    const reason = Buffer.from(`Too many security failures\x1b[31m\r\n(${password}) ${'x'.repeat(400)}`, 'latin1');
    const vnc = await startRefusingVnc(reason);
    cleanups.add(() => vnc.close());
    const { gw, close } = await startTwoConsoleGateway(tcpTarget(vnc.port, { vncPassword: password }), { limits: { pingIntervalMs: 50 } });
    cleanups.add(close);
    const before = memoryBytes();

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { track: clients });
    const closing = closed(ws);
    expect(await healthyConsoleServed(gw, HEALTHY_VM, clients)).toBe(true);
    const seen = await closing;

    expect(seen.code).toBe(ConsoleCloseCode.UpstreamRefused);
    expect(seen.reason.startsWith('upstream refused: Too many security failures [31m (***) xxx')).toBe(true);
    expect(Buffer.byteLength(seen.reason)).toBeLessThanOrEqual(123);
    expect(seen.reason).toMatch(/^[\x20-\x7e]*$/);
    await gw.closedCount(2);
    const audit = auditLine(gw, ConsoleCloseCode.UpstreamRefused);
    expect(audit).toMatchObject({ closeReason: seen.reason, detail: 'RFB_SERVER_REFUSED' });
    expect(gw.log.text()).not.toContain(password);
    expect(memoryBytes() - before).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(gw.server.listening).toBe(true);
  });

  it('a browser that vanishes while it is paused (its upstream backed up) is found by ping', async () => {
    // A VNC server that stops reading: the gateway's queue towards it fills and the browser is paused.
    const upstream = await startTcpServer((socket) => socket.pause());
    cleanups.add(() => upstream.close());
    const { gw, close } = await startTwoConsoleGateway(tcpTarget(upstream.port), {
      // 400 ms: the flood below runs in this process, beside the gateway; on a loaded machine a
      // 100 ms ping could time out before the browser was ever paused (seen once in CI).
      limits: { pingIntervalMs: 400, highWaterMarkBytes: 64 * 1024, maxHeldBytes: 32 * MiB, idleTimeoutMs: 600_000 },
    });
    cleanups.add(close);
    const before = memoryBytes();

    let vanished = false;
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { autoPong: false, track: clients });
    ws.on('ping', (data) => {
      if (!vanished) ws.pong(data);
    });
    const closing = closed(ws);
    const paused = (): boolean => gw.events.some((e) => e.type === 'backpressure' && e.direction === 'toUpstream' && e.paused);
    await floodFromBrowser(ws, 256 * MiB, paused);
    expect(ws.readyState, 'the browser was still open when the flood stopped').toBe(ws.OPEN);
    expect(paused()).toBe(true);
    vanished = true; // from now on: no pongs, no bytes, no FIN, as if its network went away

    expect(await healthyConsoleServed(gw, HEALTHY_VM, clients)).toBe(true);
    expect((await closing).code).toBe(ConsoleCloseCode.PingTimeout);
    await gw.closedCount(2);
    expect(auditLine(gw, ConsoleCloseCode.PingTimeout)).toMatchObject({ closeReason: 'ping timeout', detail: 'paused' });
    expect(memoryBytes() - before).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(gw.server.listening).toBe(true);
  });

  it('a live browser paused by backpressure answers the probing pings, keeps its session, and every byte it sent arrives', async () => {
    let upstreamSocket: import('node:net').Socket | null = null;
    let received = 0;
    const upstream = await startTcpServer((socket) => {
      upstreamSocket = socket;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      socket.pause();
    });
    cleanups.add(() => upstream.close());
    const { gw, close } = await startTwoConsoleGateway(tcpTarget(upstream.port), {
      // A tick long enough for a probe to read through what the kernel buffered ahead of the pong.
      limits: { pingIntervalMs: 200, highWaterMarkBytes: 64 * 1024, maxHeldBytes: 32 * MiB, idleTimeoutMs: 600_000 },
    });
    cleanups.add(close);

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { track: clients });
    const paused = (): boolean => gw.events.some((e) => e.type === 'backpressure' && e.direction === 'toUpstream' && e.paused);
    const sent = await floodFromBrowser(ws, 256 * MiB, paused);
    expect(paused()).toBe(true);
    // Several probing pings go by while the upstream is stuck.
    const pongs = await new Promise<number>((resolve) => {
      let n = 0;
      ws.on('ping', () => {
        if (++n === 5) resolve(n);
      });
    });
    expect(pongs).toBe(5);
    expect(gw.events.some((e) => e.type === 'closed')).toBe(false);

    (upstreamSocket as import('node:net').Socket | null)?.resume();
    for (let i = 0; i < 500 && received < sent; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toBe(sent);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  it('a browser that goes away during a large screen update from an upstream WebSocket ends its session and frees its cap slot', async () => {
    const websockify = await startFloodingWebsockify(512 * MiB);
    cleanups.add(() => websockify.close());
    const { gw, close } = await startTwoConsoleGateway(
      { kind: 'websocket', url: websockify.url, protocols: ['binary'], describe: 'flooding websockify', provider: 'sim' },
      {
        // One tick a minute: the sweep that cuts off stalled closes must not be what ends this session.
        limits: { pingIntervalMs: 60_000, highWaterMarkBytes: 64 * 1024 },
        sessionCaps: () => ({ global: 2, perCaller: 2 }),
      },
    );
    cleanups.add(close);
    const before = memoryBytes();

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { track: clients });
    ws.pause(); // the browser is busy: the screen update backs up and the upstream is paused
    const legPaused = (): boolean => gw.events.some((e) => e.type === 'backpressure' && e.direction === 'toClient' && e.paused);
    for (let i = 0; i < 200 && !legPaused(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(legPaused()).toBe(true);
    expect(await healthyConsoleServed(gw, HEALTHY_VM, clients)).toBe(true);
    await gw.closedCount(1);

    const ended = gw.nextClosed();
    ws.terminate(); // the tab is closed mid-update
    // Ends once the upstream's close reply is read; a paused upstream never reads it (30 s in `ws`).
    expect((await ended).closeCode).toBe(ConsoleCloseCode.Abnormal);
    for (let i = 0; i < 200 && websockify.closed() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(websockify.closed()).toBe(1);

    // Both slots are free again: two consoles at once are accepted under a cap of two.
    const [a, b] = await Promise.all([
      openWs(`${gw.url}?ticket=${await gw.mint(HEALTHY_VM)}`, { track: clients }),
      openWs(`${gw.url}?ticket=${await gw.mint(HEALTHY_VM)}`, { track: clients }),
    ]);
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(memoryBytes() - before).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(gw.server.listening).toBe(true);
  });
});
