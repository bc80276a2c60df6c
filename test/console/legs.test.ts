/**
 * The console proxy's two upstream legs, one table: every case runs through the real /websockify
 * endpoint against a raw TCP target (a VNC server stand-in) and against an upstream websockify (a
 * `ws` server). Flow control, churn and close paths must not depend on which leg carries the bytes.
 */
import { once } from 'node:events';
import type { Duplex, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createWebSocketStream } from 'ws';
import type { ConsoleSessionEvent } from '../../src/console/endpoint.js';
import type { ResolvedTarget } from '../../src/console/session.js';
import { TCP_READ_BYTES } from '../../src/console/legs/tcp.js';
import { ConsoleCloseCode, closeReason } from '../../src/websocket-codes.js';
import { useCleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { closedPort, collect, startConsoleEndpoint, startTcpServer, startWsEcho, tcpTarget, wsTarget } from './helpers.js';

const cleanups = useCleanups();
const clients = cleanups.sockets;

const KiB = 1024;
const MiB = 1024 * KiB;

/** One accepted upstream connection, as a byte stream whichever leg carries it. */
interface Peer {
  stream: Duplex;
  /** The upstream ends the connection (TCP FIN / WebSocket close 1000). */
  hangUp(): void;
  /** Settles once the connection is fully closed on the upstream's side. */
  gone: Promise<void>;
}

interface Upstream {
  target: ResolvedTarget;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections still open on the upstream's side. */
  open(): number;
  /** Resolves with the next accepted connection. */
  nextPeer(): Promise<Peer>;
  close(): Promise<void>;
}

interface Leg {
  name: string;
  /** An upstream on an ephemeral port; `onPeer` replaces the default echo. */
  start(onPeer?: (peer: Peer) => void): Promise<Upstream>;
  /** A target on a port nothing listens on. */
  refusing(): Promise<ResolvedTarget>;
}

function peerQueue(): { push(p: Peer): void; next(): Promise<Peer> } {
  const ready: Peer[] = [];
  const waiting: Array<(p: Peer) => void> = [];
  return {
    push: (p) => (waiting.length ? waiting.shift()!(p) : ready.push(p)),
    next: () => (ready.length ? Promise.resolve(ready.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

const tcpLeg: Leg = {
  name: 'TCP (raw RFB to a VNC server)',
  async start(onPeer) {
    const peers = peerQueue();
    const server = await startTcpServer((socket) => {
      const peer: Peer = { stream: socket, hangUp: () => socket.end(), gone: once(socket, 'close').then(() => undefined) };
      peers.push(peer);
      if (onPeer) onPeer(peer);
      else socket.pipe(socket);
    });
    return { target: tcpTarget(server.port), accepted: () => server.accepted, open: () => server.sockets.size, nextPeer: peers.next, close: () => server.close() };
  },
  refusing: async () => tcpTarget(await closedPort()),
};

const webSocketLeg: Leg = {
  name: 'WebSocket (to an upstream websockify)',
  async start(onPeer) {
    const peers = peerQueue();
    const server = await startWsEcho((ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      const peer: Peer = { stream, hangUp: () => ws.close(1000), gone: once(ws, 'close').then(() => undefined) };
      peers.push(peer);
      if (onPeer) onPeer(peer);
      else stream.pipe(stream);
    });
    return { target: wsTarget(server), accepted: () => server.accepted, open: () => server.clients.size, nextPeer: peers.next, close: () => server.close() };
  },
  refusing: async () => ({ kind: 'websocket', url: `ws://127.0.0.1:${await closedPort()}/websockify/?token=s3cret`, protocols: ['binary'], describe: 'ws://127.0.0.1/websockify/', provider: 'sim' }),
};

/** A block whose length is a multiple of 251, so block after block continues `i mod 251`. */
const BLOCK = Buffer.from(Array.from({ length: 251 * 261 }, (_, i) => i % 251));

/** Writes `total` bytes of the `i mod 251` pattern into `out`, honouring its backpressure; ends it when done if `end`. */
function pump(out: Writable, total: number, end: boolean) {
  const state = {
    written: 0,
    /** The writer is blocked, waiting for 'drain'. */
    blocked: false,
  };
  let onBlocked: (() => void) | null = null;
  const step = (): void => {
    while (state.written < total) {
      const n = Math.min(BLOCK.length, total - state.written);
      state.written += n;
      if (!out.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
        state.blocked = true;
        onBlocked?.();
        onBlocked = null;
        out.once('drain', () => {
          state.blocked = false;
          step();
        });
        return;
      }
    }
    if (end) out.end();
  };
  return {
    state,
    start: step,
    /** Resolves once the writer is blocked on backpressure (at once if it already is). */
    blocked: (): Promise<void> => (state.blocked ? Promise.resolve() : new Promise((resolve) => (onBlocked = resolve))),
  };
}

/** Reads `total` bytes from `source` and checks they continue the `i mod 251` pattern. */
function verify(source: { on(event: 'data', fn: (chunk: Buffer) => void): unknown }, total: number): Promise<{ received: number; mismatch: number }> {
  let received = 0;
  let mismatch = -1;
  return new Promise((resolve) => {
    source.on('data', (data: Buffer) => {
      for (let i = 0; i < data.length && mismatch < 0; i++) if (data[i] !== (received + i) % 251) mismatch = received + i;
      received += data.length;
      if (received >= total) resolve({ received, mismatch });
    });
  });
}

type Backpressure = Extract<ConsoleSessionEvent, { type: 'backpressure' }>;

/** A console endpoint whose every session goes to `target`; `paused(direction)` resolves on the first pause that way. */
async function endpointTo(target: ResolvedTarget, limits: { highWaterMarkBytes?: number } = {}) {
  const flow: Backpressure[] = [];
  const waiters: Array<{ direction: Backpressure['direction']; resolve: () => void }> = [];
  const gw = await startConsoleEndpoint({
    target,
    limits,
    onSessionEvent: (e) => {
      if (e.type !== 'backpressure') return;
      flow.push(e);
      for (const w of [...waiters]) {
        if (e.paused && e.direction === w.direction) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
  });
  cleanups.add(() => gw.close());
  const paused = (direction: Backpressure['direction']): Promise<void> => new Promise((resolve) => waiters.push({ direction, resolve }));
  return { gw, flow, paused, open: async () => mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients }) };
}

async function upstreamFor(leg: Leg, onPeer?: (peer: Peer) => void): Promise<Upstream> {
  const upstream = await leg.start(onPeer);
  cleanups.add(() => upstream.close());
  return upstream;
}

describe.each([tcpLeg, webSocketLeg])('console legs: $name', (leg) => {
  describe('bytes', () => {
    it('pipes binary both ways, counts the bytes, and closes the upstream when the browser leaves', async () => {
      const upstream = await upstreamFor(leg);
      const { gw, open } = await endpointTo(upstream.target);
      const peer = upstream.nextPeer();
      const ws = await open();
      expect(ws.protocol).toBe('binary');
      const sizes = [1, 64, 70_000, 300_000];
      for (const size of sizes) {
        const payload = BLOCK.subarray(0, Math.min(size, BLOCK.length));
        const full = Buffer.concat(Array.from({ length: Math.ceil(size / payload.length) }, () => payload)).subarray(0, size);
        const got = collect(ws, size);
        ws.send(full);
        expect((await got).equals(full)).toBe(true);
      }
      const { gone } = await peer;
      const ended = gw.nextClosed();
      ws.close(1000);
      await gone;
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(await ended).toMatchObject({ caller: 'alice', vmId: 'sim:vm-1', provider: 'sim', target: upstream.target.describe, closeCode: 1000, bytesToUpstream: total, bytesToClient: total });
      expect(gw.endpoint.sessions()).toBe(0);
      expect(upstream.open()).toBe(0);
    });
  });

  describe('backpressure', () => {
    const total = 16 * MiB;
    const hwm = 256 * KiB;
    /** One upstream read (a TCP leg reads up to TCP_READ_BYTES at once) or one browser frame may land on top of a queue that is at the mark. */
    const slack = Math.max(TCP_READ_BYTES, 64 * KiB) + 64 * KiB;

    it('a browser that reads nothing pauses the upstream; the queue towards it stays bounded and every byte arrives in order', async () => {
      let writer!: ReturnType<typeof pump>;
      let connected!: () => void;
      const writing = new Promise<void>((resolve) => (connected = resolve));
      const upstream = await upstreamFor(leg, (peer) => {
        writer = pump(peer.stream, total, true);
        writer.start();
        connected();
      });
      const { gw, flow, paused } = await endpointTo(upstream.target, { highWaterMarkBytes: hwm });
      const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
      ws.pause();
      const arrived = verify({ on: (_e, fn) => ws.on('message', fn) }, total);
      await writing;

      await paused('toClient');
      // The gateway stopped reading the upstream; its kernel buffers fill and the upstream's writes block.
      await writer.blocked();
      expect(writer.state.written).toBeLessThan(total);

      const ended = gw.nextClosed();
      ws.resume();
      expect(await arrived).toEqual({ received: total, mismatch: -1 });
      const summary = await ended;
      expect(summary.bytesToClient).toBe(total);
      expect(summary.peakBufferedToClient).toBeLessThanOrEqual(hwm + slack);
      expect(summary.closeCode).toBe(ConsoleCloseCode.UpstreamClosed);
      expect(flow.some((e) => e.direction === 'toClient' && !e.paused)).toBe(true);
    });

    it('an upstream that reads nothing pauses the browser; the queue towards it stays bounded and every byte arrives in order', async () => {
      const upstream = await upstreamFor(leg, (peer) => peer.stream.pause());
      const { gw, flow, paused } = await endpointTo(upstream.target, { highWaterMarkBytes: hwm });
      const nextPeer = upstream.nextPeer();
      const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
      const peer = await nextPeer;
      const browser = createWebSocketStream(ws);
      browser.on('error', () => {});
      const writer = pump(browser, total, false);
      writer.start();

      await paused('toUpstream');
      // The gateway stopped reading the browser: the browser's own writes block.
      await writer.blocked();
      expect(writer.state.written).toBeLessThan(total);

      const arrived = verify(peer.stream, total);
      peer.stream.resume();
      expect(await arrived).toEqual({ received: total, mismatch: -1 });
      const ended = gw.nextClosed();
      ws.close(1000);
      const summary = await ended;
      expect(summary.bytesToUpstream).toBe(total);
      expect(summary.peakBufferedToUpstream).toBeLessThanOrEqual(hwm + slack);
      expect(flow.some((e) => e.direction === 'toUpstream' && !e.paused)).toBe(true);
    });
  });

  describe('churn', () => {
    it('200 sessions opened and dropped at once leave no session and no upstream connection', async () => {
      const upstream = await upstreamFor(leg);
      const { gw, open } = await endpointTo(upstream.target);
      const n = 200;
      const peers: Array<Promise<Peer>> = Array.from({ length: n }, () => upstream.nextPeer());
      const sockets = await Promise.all(Array.from({ length: n }, () => open()));
      expect(gw.endpoint.sessions()).toBe(n);
      const all = gw.closedCount(n);
      for (const s of sockets) s.terminate();
      await all;
      expect(gw.endpoint.sessions()).toBe(0);
      // Every upstream connection that was made gets closed.
      await Promise.all((await Promise.all(peers.slice(0, upstream.accepted()))).map((p) => p.gone));
      expect(upstream.open()).toBe(0);
      expect(await gw.registry.metrics()).toMatch(/console_sessions_active 0/);
    });

    it('sessions opened and closed one after another leave nothing behind', async () => {
      const upstream = await upstreamFor(leg);
      const { gw, open } = await endpointTo(upstream.target);
      for (let i = 0; i < 50; i++) {
        const peer = upstream.nextPeer();
        const ws = await open();
        const echoed = collect(ws, 3);
        ws.send(Buffer.from([i, i, i]));
        await echoed;
        const { gone } = await peer;
        ws.close(1000);
        await gone;
      }
      await gw.closedCount(50);
      expect(gw.endpoint.sessions()).toBe(0);
      expect(upstream.open()).toBe(0);
      expect(upstream.accepted()).toBe(50);
    });
  });

  describe('close paths', () => {
    it('the browser closes, even as the upstream has just connected: the upstream is closed and the session recorded with 1000', async () => {
      const upstream = await upstreamFor(leg);
      const { gw, open } = await endpointTo(upstream.target);
      const peer = upstream.nextPeer();
      const ws = await open();
      const { gone } = await peer;
      const ended = gw.nextClosed();
      ws.close(1000);
      await gone;
      expect((await ended).closeCode).toBe(ConsoleCloseCode.Normal);
      expect(gw.endpoint.sessions()).toBe(0);
    });

    it(`the upstream closes: the browser gets what it sent, then ${ConsoleCloseCode.UpstreamClosed}`, async () => {
      const upstream = await upstreamFor(leg, () => {});
      const { gw, open } = await endpointTo(upstream.target);
      const peer = upstream.nextPeer();
      const ws = await open();
      const { stream, hangUp } = await peer;
      const last = collect(ws, 5);
      const closing = closed(ws);
      stream.write(Buffer.from('bye!!'), () => hangUp());
      expect((await last).toString()).toBe('bye!!');
      expect(await closing).toEqual({ code: ConsoleCloseCode.UpstreamClosed, reason: closeReason[ConsoleCloseCode.UpstreamClosed] });
      await gw.closedCount(1);
      expect(gw.endpoint.sessions()).toBe(0);
    });

    it(`the upstream refuses the connection: the browser gets ${ConsoleCloseCode.UpstreamUnreachable}`, async () => {
      const { gw, open } = await endpointTo(await leg.refusing());
      const ws = await open();
      expect(await closed(ws)).toEqual({ code: ConsoleCloseCode.UpstreamUnreachable, reason: closeReason[ConsoleCloseCode.UpstreamUnreachable] });
      await gw.closedCount(1);
      expect(gw.endpoint.sessions()).toBe(0);
    });

    it('a browser that leaves while the target is being resolved ends the session; the upstream is never contacted', async () => {
      const upstream = await upstreamFor(leg);
      const late: Array<(t: ResolvedTarget) => void> = [];
      const gw = await startConsoleEndpoint({
        resolveTarget: () => (late.length === 0 ? new Promise<ResolvedTarget>((resolve) => late.push(resolve)) : Promise.resolve(upstream.target)),
      });
      cleanups.add(() => gw.close());
      const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
      const ended = gw.nextClosed();
      ws.terminate();
      expect((await ended).closeCode).toBe(ConsoleCloseCode.Abnormal);
      expect(gw.endpoint.sessions()).toBe(0);
      late[0]!(upstream.target);
      // The abandoned session resumes (in a microtask) before any I/O of the next one. A second
      // session that reaches the upstream and echoes therefore shows what the first did: nothing.
      const second = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
      const echoed = collect(second, 2);
      second.send(Buffer.from('ok'));
      await echoed;
      expect(upstream.accepted()).toBe(1);
    });
  });
});
