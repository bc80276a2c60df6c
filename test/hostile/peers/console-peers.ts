/**
 * Hostile peers of the console proxy: VNC servers that stall, flood or refuse, an upstream
 * websockify that floods, and a browser that floods. Each is bounded (a byte budget, and it stops
 * once its connection closes) so a test can never run away. All on 127.0.0.1, ephemeral ports.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, createWebSocketStream } from 'ws';
import { vncAuthResponse } from '../../../src/rfb/des.js';
import { startRfbServer } from '../../../src/simulators/vnc/index.js';
import { RfbTestClient } from '../../rfb/rfb-test-client.js';
import { startConsoleEndpoint, startTcpServer } from '../../console/helpers.js';
import type { ConsoleEndpointHarnessOptions, TcpEcho, TestConsoleEndpoint } from '../../console/helpers.js';
import { mustOpen } from '../../helpers/ws.js';
import type { ResolvedTarget } from '../../../src/console/session.js';

const BANNER = Buffer.from('RFB 003.008\n');
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/** Gateway memory as the tests measure it: JS heap plus Buffers (which live outside the heap). */
export function memoryBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Reads exact byte counts from a TCP socket (`data`) or a browser WebSocket (`message`). */
export function byteReader(source: Socket | WebSocket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let want: { n: number; resolve: (b: Buffer) => void } | null = null;
  const pump = (): void => {
    if (want && buf.length >= want.n) {
      const out = buf.subarray(0, want.n);
      buf = buf.subarray(want.n);
      const w = want;
      want = null;
      w.resolve(out);
    }
  };
  const take = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    pump();
  };
  if (source instanceof WebSocket) source.on('message', take);
  else source.on('data', take);
  return (n) =>
    new Promise((resolve) => {
      want = { n, resolve };
      pump();
    });
}

/** Writes up to `budget` bytes as fast as the socket takes them; resolves with the count written. */
async function floodSocket(socket: Socket, budget: number): Promise<number> {
  let sent = 0;
  while (sent < budget && !socket.destroyed && socket.writable) {
    sent += CHUNK.length;
    if (!socket.write(CHUNK)) {
      const drained = once(socket, 'drain').then(() => true);
      const closed = once(socket, 'close').then(() => false);
      if (!(await Promise.race([drained, closed]))) break;
    }
  }
  return sent;
}

/** A VNC server that sends its banner, reads the client's, and then says nothing more (reading and dropping). */
export function startStallingVnc(): Promise<TcpEcho> {
  return startTcpServer((socket) => {
    socket.write(BANNER);
    socket.on('data', () => {});
  });
}

/**
 * A VNC server that authenticates the gateway with `password` and then floods, before any
 * ClientInit, up to `budget` bytes per connection. `sent` adds up what it managed to write.
 */
export async function startFloodingVnc(password: string, budget: number): Promise<TcpEcho & { sent: () => number }> {
  let sent = 0;
  const server = await startTcpServer((socket) => {
    const read = byteReader(socket);
    void (async () => {
      socket.write(BANNER);
      await read(12);
      socket.write(Buffer.from([1, 2]));
      await read(1);
      const challenge = randomBytes(16);
      socket.write(challenge);
      const answer = await read(16);
      if (!answer.equals(vncAuthResponse(password, challenge))) return void socket.destroy();
      socket.write(Buffer.from([0, 0, 0, 0]));
      sent += await floodSocket(socket, budget);
    })().catch(() => socket.destroy());
  });
  return Object.assign(server, { sent: () => sent });
}

/** A VNC server that refuses every connection before security, with `reason` (RFB 3.8: zero security types). */
export function startRefusingVnc(reason: Buffer): Promise<TcpEcho> {
  return startTcpServer((socket) => {
    const read = byteReader(socket);
    void (async () => {
      socket.write(BANNER);
      await read(12);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(reason.length);
      socket.end(Buffer.concat([Buffer.from([0]), len, reason]));
    })().catch(() => socket.destroy());
  });
}

export interface FloodingWebsockify {
  url: string;
  /** Upstream connections whose WebSocket has closed (the close handshake completed or the socket dropped). */
  closed: () => number;
  close(): Promise<void>;
}

/** An upstream websockify whose VNC server sends one endless screen update: binary messages up to `budget` bytes per connection. */
export async function startFloodingWebsockify(budget: number): Promise<FloodingWebsockify> {
  let closed = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (p: Set<string>) => (p.has('binary') ? 'binary' : false) });
  const clients = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    clients.add(ws);
    ws.on('error', () => {});
    ws.once('close', () => {
      closed++;
      clients.delete(ws);
    });
    let sent = 0;
    const pump = (): void => {
      while (ws.readyState === WebSocket.OPEN && sent < budget) {
        sent += CHUNK.length;
        if (ws.bufferedAmount > 512 * 1024) {
          ws.send(CHUNK, { binary: true }, () => pump());
          return;
        }
        ws.send(CHUNK, { binary: true });
      }
    };
    pump();
  });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/websockify/`,
    closed: () => closed,
    close: async () => {
      for (const c of clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * A browser that sends binary messages as fast as the gateway reads them, up to `budget` bytes,
 * keeping at most 1 MiB queued on its own side, until `stop()` says so. Resolves with the bytes it handed to `ws`.
 */
export async function floodFromBrowser(ws: WebSocket, budget: number, stop: () => boolean = () => false): Promise<number> {
  let sent = 0;
  while (sent < budget && ws.readyState === WebSocket.OPEN && !stop()) {
    if (ws.bufferedAmount > 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    ws.send(CHUNK);
    sent += CHUNK.length;
    if (sent % (16 * CHUNK.length) === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return sent;
}

/** The healthy console: the VNC simulator (no password) behind the gateway. */
export async function startHealthyVnc(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = await startRfbServer({ name: 'healthy', tickMs: 0 });
  return { port: server.port, close: () => server.close() };
}

/** Opens a console to the healthy VM through the gateway and checks it gets as far as ServerInit. */
export async function healthyConsoleServed(gw: TestConsoleEndpoint, vmId: string, track: Set<WebSocket>): Promise<boolean> {
  const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint(vmId)}`, { track: track });
  const stream = createWebSocketStream(ws);
  stream.on('error', () => {});
  try {
    const rfb = await RfbTestClient.handshake(stream);
    return rfb.serverInit.width > 0;
  } finally {
    ws.close();
  }
}

export const HEALTHY_VM = 'sim:healthy';
export const HOSTILE_VM = 'sim:hostile';

/**
 * A gateway with two consoles: HOSTILE_VM goes to `hostile`, HEALTHY_VM to the VNC simulator.
 * `limits` are the endpoint's (small ones keep attacks cheap).
 */
export async function startTwoConsoleGateway(
  hostile: ResolvedTarget,
  options: Omit<ConsoleEndpointHarnessOptions, 'target' | 'resolveTarget'> = {},
): Promise<{ gw: TestConsoleEndpoint; close: () => Promise<void> }> {
  const healthy = await startHealthyVnc();
  const gw = await startConsoleEndpoint({
    ...options,
    resolveTarget: async (ticket) =>
      ticket.vmId === HEALTHY_VM ? { kind: 'tcp', host: '127.0.0.1', port: healthy.port, describe: 'healthy', provider: 'sim' } : hostile,
  });
  return {
    gw,
    close: async () => {
      await gw.close();
      await healthy.close();
    },
  };
}

/** The audit line (`console session`) of the session that ended with `closeCode`. */
export function auditLine(gw: TestConsoleEndpoint, closeCode: number): Record<string, unknown> | undefined {
  return gw.log.records().find((r) => r.msg === 'console session' && r.closeCode === closeCode);
}
