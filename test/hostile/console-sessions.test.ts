/**
 * Hostile console clients against the session bounds a client can push on: one that holds its console
 * past `console.maxLifetimeSeconds` (4014), one that keeps the bytes flowing but never types
 * (`console.inputIdleTimeoutSeconds`, 4015), and a view-only observer that floods input or sends what
 * the filter cannot follow (4012). Time bounds run on the shared sweep, driven here with a fake
 * setInterval and a fake clock, over a real console WebSocket and a TCP echo upstream or the VNC
 * simulator.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket, createWebSocketStream } from 'ws';
import { startRfbServer } from '../../src/simulators/vnc/index.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { Cleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { RfbTestClient, keyEventMessage, pointerEventMessage } from '../rfb/rfb-test-client.js';
import { collect, startConsoleEndpoint, startTcpServer, tcpTarget, type TestConsoleEndpoint, useFakeTicker } from '../console/helpers.js';
import { auditLine } from './peers/console-peers.js';

const cleanups = new Cleanups();
const clients = cleanups.sockets;
const clock = useFakeTicker(cleanups);

type Limits = { idleTimeoutMs: number; pingIntervalMs: number; maxLifetimeMs?: number; inputIdleTimeoutMs?: number };

async function setup(limits: Limits) {
  const echo = await startTcpServer();
  cleanups.add(() => echo.close());
  const gw = await startConsoleEndpoint({ target: tcpTarget(echo.port), limits, now: clock.now });
  cleanups.add(() => gw.close());
  return gw;
}

/** The console endpoint in front of the VNC simulator, which counts the input that reaches it. */
async function setupVnc(limits: Limits) {
  const vnc = await startRfbServer({ name: 'vm-1', tickMs: 0 });
  cleanups.add(() => vnc.close());
  const gw = await startConsoleEndpoint({ target: tcpTarget(vnc.port), limits, now: clock.now });
  cleanups.add(() => gw.close());
  return { gw, vnc };
}

/** A console with an RFB handshake done; view-only when asked. */
async function openRfb(gw: TestConsoleEndpoint, viewOnly: boolean): Promise<{ ws: WebSocket; rfb: RfbTestClient }> {
  const ticket = viewOnly ? (await gw.tickets.mint({ provider: 'sim', upstreamId: 'vm-1', caller: 'mallory', viewOnly: true })).ticket : await gw.mint();
  const ws = await mustOpen(`${gw.url}?ticket=${ticket}`, { track: clients });
  return { ws, rfb: await RfbTestClient.handshake(createWebSocketStream(ws)) };
}

/** `console_view_only_input_dropped_total` by type. */
async function droppedMetric(gw: TestConsoleEndpoint): Promise<Record<string, number>> {
  const text = await gw.registry.getSingleMetricAsString('console_view_only_input_dropped_total');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^console_view_only_input_dropped_total\{type="([a-z_]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
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

describe('hostile console clients: held past the maximum lifetime', () => {
  it('closes with 4014 at maxLifetimeMs, busy or not, and not before', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 0, maxLifetimeMs: 60_000 });
    const tick = 30_000; // without pings or idle timeout, the sweep ticks every 30 s
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws);
    clock.ms = 59_999;
    vi.advanceTimersByTime(tick);
    await roundTrip(ws); // still open, and piping
    const closing = closed(ws);
    clock.ms = 60_000;
    vi.advanceTimersByTime(tick);
    expect(await closing).toEqual({ code: ConsoleCloseCode.LifetimeExceeded, reason: 'session lifetime exceeded' });
    expect((await gw.nextClosed()).closeCode).toBe(ConsoleCloseCode.LifetimeExceeded);
  });

  it('a view-only observer whose input keeps it from looking idle is still ended at the lifetime, none of its input having reached the VM', async () => {
    const { gw, vnc } = await setupVnc({ idleTimeoutMs: 0, pingIntervalMs: 0, maxLifetimeMs: 60_000, inputIdleTimeoutMs: 20_000 });
    const tick = 30_000;
    const observer = await openRfb(gw, true);
    const closing = closed(observer.ws);
    for (const at of [15_000, 30_000, 45_000, 59_999]) {
      observer.rfb.send(keyEventMessage(true, 0x61), pointerEventMessage(1, 5, 5));
      observer.rfb.requestUpdate(false);
      await observer.rfb.readUpdate(); // the gateway has read the input: it counts as the observer being there
      clock.ms = at;
      vi.advanceTimersByTime(tick);
    }
    observer.rfb.requestUpdate(false);
    await observer.rfb.readUpdate(); // still open at 59_999
    clock.ms = 60_000;
    vi.advanceTimersByTime(tick);
    expect((await closing).code).toBe(ConsoleCloseCode.LifetimeExceeded);
    expect(vnc.inputCounts).toEqual({ key: 0, pointer: 0, cutText: 0 });
    await gw.closedCount(1);
    expect(auditLine(gw, ConsoleCloseCode.LifetimeExceeded)).toMatchObject({ viewOnly: true, droppedInput: { key: 4, pointer: 4 } });
  });
});

describe('hostile console clients: never typing (input-idle timeout)', () => {
  it('closes with 4015 after inputIdleTimeoutMs without keyboard or mouse, while screen traffic keeps the byte idle timeout away', async () => {
    const gw = await setup({ idleTimeoutMs: 8_000, pingIntervalMs: 0, inputIdleTimeoutMs: 10_000 });
    const tick = 2_000; // idleTimeout / 4
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, Buffer.concat([HANDSHAKE, UPDATE_REQUEST]));

    clock.ms = 5_000;
    vi.advanceTimersByTime(tick); // no input yet: idle for 5 s
    await roundTrip(ws, KEY); // input at ~5 s
    clock.ms = 9_000;
    vi.advanceTimersByTime(tick); // sees the key: input at 9_000

    await roundTrip(ws, UPDATE_REQUEST);
    clock.ms = 14_000;
    vi.advanceTimersByTime(tick); // bytes flowed: not byte-idle
    await roundTrip(ws, UPDATE_REQUEST);
    clock.ms = 18_999;
    vi.advanceTimersByTime(tick); // 9_999 ms without input: still open
    await roundTrip(ws, UPDATE_REQUEST);

    const closing = closed(ws);
    clock.ms = 19_000;
    vi.advanceTimersByTime(tick); // 10_000 ms without input, though bytes flowed since the last tick
    expect(await closing).toEqual({ code: ConsoleCloseCode.InputIdleTimeout, reason: 'no input' });
    expect(gw.log.records().some((r) => r.msg === 'console input idle')).toBe(true);
  });

  it('a client that never sends one input message is closed inputIdleTimeoutMs after its upgrade, however long it keeps asking for the screen', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 0, inputIdleTimeoutMs: 60_000 });
    const tick = 30_000;
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, Buffer.concat([HANDSHAKE, UPDATE_REQUEST]));
    clock.ms = 30_000;
    vi.advanceTimersByTime(tick);
    await roundTrip(ws, UPDATE_REQUEST);
    clock.ms = 59_999;
    vi.advanceTimersByTime(tick);
    await roundTrip(ws, UPDATE_REQUEST); // open just before the bound
    const closing = closed(ws);
    clock.ms = 60_000;
    vi.advanceTimersByTime(tick);
    expect(await closing).toEqual({ code: ConsoleCloseCode.InputIdleTimeout, reason: 'no input' });
    await gw.closedCount(1);
    expect(auditLine(gw, ConsoleCloseCode.InputIdleTimeout)).toMatchObject({ closeReason: 'no input' });
  });

  it('counts a key or pointer message split across WebSocket messages as input', async () => {
    const gw = await setup({ idleTimeoutMs: 0, pingIntervalMs: 0, inputIdleTimeoutMs: 40_000 });
    const tick = 30_000;
    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
    await roundTrip(ws, HANDSHAKE);
    const pointer = Buffer.from([5, 1, 0, 10, 0, 20]);
    await roundTrip(ws, pointer.subarray(0, 3));
    await roundTrip(ws, pointer.subarray(3));
    clock.ms = 30_000;
    vi.advanceTimersByTime(tick); // sees the pointer event: input at 30_000
    clock.ms = 60_000;
    vi.advanceTimersByTime(tick); // 30 s without input: open
    await roundTrip(ws, UPDATE_REQUEST);
    const closing = closed(ws);
    clock.ms = 70_000;
    vi.advanceTimersByTime(tick);
    expect((await closing).code).toBe(ConsoleCloseCode.InputIdleTimeout);
  });
});

describe('hostile view-only observers', () => {
  it('an observer flooding keys, pointer moves and clipboard: nothing reaches the VM, all of it is counted, and the interactive user is served', async () => {
    const { gw, vnc } = await setupVnc({ idleTimeoutMs: 0, pingIntervalMs: 0 });
    const observer = await openRfb(gw, true);
    const user = await openRfb(gw, false);
    const burst: Buffer[] = [];
    for (let i = 0; i < 2_000; i++) burst.push(keyEventMessage(i % 2 === 0, 0x61 + (i % 26)), pointerEventMessage(i % 2, i % 640, i % 400));
    const paste = Buffer.alloc(8 + 256 * 1024, 0x41); // ClientCutText with 256 KiB of text, skipped as it streams
    paste.writeUInt8(6, 0);
    paste.writeInt32BE(256 * 1024, 4);
    burst.push(paste);
    const flood = Buffer.concat(burst);
    for (let at = 0; at < flood.length; at += 4096) observer.rfb.send(flood.subarray(at, at + 4096));
    observer.rfb.requestUpdate(false);
    expect((await observer.rfb.readUpdate()).length).toBeGreaterThan(0);
    expect(vnc.inputCounts).toEqual({ key: 0, pointer: 0, cutText: 0 });
    expect(await droppedMetric(gw)).toMatchObject({ key: 2_000, pointer: 2_000, cut_text: 1 });

    user.rfb.send(keyEventMessage(true, 0x61));
    user.rfb.requestUpdate(false);
    await user.rfb.readUpdate();
    expect(vnc.inputCounts).toEqual({ key: 1, pointer: 0, cutText: 0 });
    expect(observer.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a view-only session that sends an unknown message type with 4012, and the interactive session stays', async () => {
    const { gw } = await setupVnc({ idleTimeoutMs: 0, pingIntervalMs: 0 });
    const observer = await openRfb(gw, true);
    const user = await openRfb(gw, false);
    const ended = closed(observer.ws);
    observer.rfb.send(Buffer.from([99, 0, 0, 0]));
    expect(await ended).toEqual({ code: ConsoleCloseCode.ViewOnlyUnknownMessage, reason: 'view-only: unknown message' });
    user.rfb.requestUpdate(false);
    expect((await user.rfb.readUpdate()).length).toBeGreaterThan(0);
    expect(user.ws.readyState).toBe(WebSocket.OPEN);
    await gw.closedCount(1);
    expect(auditLine(gw, ConsoleCloseCode.ViewOnlyUnknownMessage)).toMatchObject({ viewOnly: true, detail: 'unknown-message' });
    user.rfb.close();
  });
});
