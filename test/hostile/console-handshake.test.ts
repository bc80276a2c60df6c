/**
 * Hostile peers during the gateway's own RFB handshakes (a VM whose VNC server wants a password:
 * the gateway answers it and offers the browser None). While one side is through and the other is
 * not, the side with nowhere to send is not read; what is held is capped (`maxHeldBytes`, 4010);
 * and the session must be piping by `handshakeTimeoutMs` (4009), however many bytes flow.
 *
 * Each test: the gateway process stays up, memory stays bounded, the documented close code is
 * reported, and a healthy console (the VNC simulator) is served meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { startRfbServer } from '../../src/simulators/vnc/index.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { tcpTarget } from '../console/helpers.js';
import { Cleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import {
  byteReader,
  HEALTHY_VM,
  HOSTILE_VM,
  auditLine,
  floodFromBrowser,
  healthyConsoleServed,
  memoryBytes,
  startFloodingVnc,
  startStallingVnc,
  startTwoConsoleGateway,
} from './peers/console-peers.js';

const MiB = 1024 * 1024;
/** What a hostile peer tries to push: far past every cap below. */
const ATTACK_BYTES = 96 * MiB;
/** Generous: the caps below are 64 KiB; a gateway that buffered the attack would pass this many times over. */
const MEMORY_GROWTH_LIMIT = 48 * MiB;
const LIMITS = { pingIntervalMs: 50, handshakeTimeoutMs: 500, maxHeldBytes: 64 * 1024, highWaterMarkBytes: 64 * 1024, idleTimeoutMs: 600_000 };

const cleanups = new Cleanups();
const clients = new Set<WebSocket>();
afterEach(async () => {
  for (const c of clients) c.terminate();
  clients.clear();
  await cleanups.run();
});

const BOUND_CODES = [ConsoleCloseCode.HandshakeTimeout, ConsoleCloseCode.HeldBytesOverLimit];

describe('hostile peers during the console RFB handshakes', () => {
  it('a browser flooding while the VNC server stalls after its banner is not read, and the session is closed', async () => {
    const vnc = await startStallingVnc();
    cleanups.add(() => vnc.close());
    const { gw, close } = await startTwoConsoleGateway(tcpTarget(vnc.port, { vncPassword: 'pw' }), { limits: LIMITS });
    cleanups.add(close);
    const before = memoryBytes();

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { track: clients });
    const closing = closed(ws);
    const read = byteReader(ws);
    await read(12);
    ws.send(Buffer.from('RFB 003.008\n'));
    await read(2);
    ws.send(Buffer.from([1]));
    await read(4); // SecurityResult OK: the browser is through, the VNC server is not
    const flooding = floodFromBrowser(ws, ATTACK_BYTES);

    expect(await healthyConsoleServed(gw, HEALTHY_VM, clients)).toBe(true);
    const { code } = await closing;
    const attempted = await flooding;
    const summary = await gw.closedCount(2).then(() => auditLine(gw, code));

    expect(BOUND_CODES).toContain(code);
    expect(summary).toBeDefined();
    // What the gateway read from the browser stays near the cap, not near what the browser tried.
    expect(summary?.bytesToUpstream as number).toBeLessThan(8 * MiB);
    expect(attempted).toBeLessThan(ATTACK_BYTES);
    expect(memoryBytes() - before).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(gw.server.listening).toBe(true);
  });

  it('a VNC server flooding before the browser finished its handshake is not read, and the session is closed', async () => {
    const vnc = await startFloodingVnc('pw', ATTACK_BYTES);
    cleanups.add(() => vnc.close());
    const { gw, close } = await startTwoConsoleGateway(tcpTarget(vnc.port, { vncPassword: 'pw' }), { limits: LIMITS });
    cleanups.add(close);
    const before = memoryBytes();

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { track: clients });
    const closing = closed(ws);
    const read = byteReader(ws);
    await read(12); // the gateway's banner; the browser says nothing back

    expect(await healthyConsoleServed(gw, HEALTHY_VM, clients)).toBe(true);
    const { code } = await closing;
    const summary = await gw.closedCount(2).then(() => auditLine(gw, code));

    expect(BOUND_CODES).toContain(code);
    expect(summary?.bytesToClient as number).toBeLessThan(8 * MiB);
    expect(vnc.sent()).toBeLessThan(ATTACK_BYTES);
    expect(memoryBytes() - before).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(gw.server.listening).toBe(true);
  });

  it('a browser that never finishes its handshake is closed with 4009 at the deadline', async () => {
    const vnc = await startRfbServer({ name: 'locked', password: 'pw', tickMs: 0 });
    cleanups.add(() => vnc.close());
    const { gw, close } = await startTwoConsoleGateway(tcpTarget(vnc.port, { vncPassword: 'pw' }), { limits: LIMITS });
    cleanups.add(close);
    const before = memoryBytes();

    const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(HOSTILE_VM)}`, { track: clients });
    const closing = closed(ws);
    const read = byteReader(ws);
    await read(12);
    ws.send(Buffer.from('RFB 00')); // half a banner, then silence (pings are still answered)

    expect(await healthyConsoleServed(gw, HEALTHY_VM, clients)).toBe(true);
    expect(await closing).toEqual({ code: ConsoleCloseCode.HandshakeTimeout, reason: 'handshake timeout' });
    await gw.closedCount(2);
    expect(auditLine(gw, ConsoleCloseCode.HandshakeTimeout)).toMatchObject({ closeReason: 'handshake timeout', detail: 'handshaking' });
    expect(gw.log.records().some((r) => r.msg === 'console handshake timeout')).toBe(true);
    const metrics = await gw.registry.getSingleMetricAsString('console_sessions_closed_total');
    expect(metrics).toContain('code="4009"');
    expect(memoryBytes() - before).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(gw.server.listening).toBe(true);
  });
});
