/**
 * The simulated websockify behind `/websockify/` (seed 000): the cluster's and the tower's, which
 * share one endpoint here. It accepts both URL forms:
 *   direct:       `/websockify/?uuid={vm_uuid}&token={raw_token}&host={host_ip}`
 *   through tower `/websockify/?token={encodeURIComponent(token)}&uuid={vm_uuid}&host={host_ip}`
 * checks them against credentials the `vnc` query issued, and bridges binary frames to the VM's
 * console over TCP.
 *
 * Query values are decoded with URLSearchParams (`+` reads as a space, as form-decoding servers do),
 * so a client that puts the base64 token in the URL without encoding it is refused.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { RawData } from 'ws';
import { GARBAGE_BODY } from './faults.js';
import type { FaultRule } from './faults.js';
import type { VncCredentialStore, WebsockifyUrlForm } from './vnc-credentials.js';
import { toApiVm } from './vms.js';
import type { CloudTowerVm, SimulatedVm } from './vms.js';

/** Where a VM's console (an RFB server) listens. */
export interface ConsoleEndpoint {
  host: string;
  port: number;
}

export type ConsoleLocator = (vm: CloudTowerVm) => ConsoleEndpoint | null;

/** One websockify connection attempt, as recorded for tests (never the token itself). */
export interface WebsockifyLogEntry {
  uuid: string | null;
  host: string | null;
  /** Which URL form matched; null when the credentials were refused. */
  form: WebsockifyUrlForm | null;
  /** HTTP status of the handshake answer (101 when upgraded, 0 when a `hang` fault held it). */
  status: number;
  /** Negotiated subprotocol ('' when none). */
  protocol: string;
  /** The VM the credentials belong to. */
  vmId: string | null;
}

export const WEBSOCKIFY_PATHS = new Set(['/websockify', '/websockify/']);

/** Close code when the console cannot be reached after the handshake (websockify closes the same way). */
export const CLOSE_CONSOLE_UNAVAILABLE = 1011;

/** websockify's close when its target (the VNC server) closed: `CClose(1000, "Target closed")`. */
export const CLOSE_TARGET_CLOSED = { code: 1000, reason: 'Target closed' } as const;

/**
 * Whether a VM in this status has a hypervisor process, and so a VNC server to bridge to. A stopped or
 * deleted VM has none. SUSPENDED keeps it: suspending pauses the guest while the QEMU process, and its
 * VNC server showing the frozen screen, stay up (*unverified* for CloudTower; libvirt's suspend does so).
 */
export function hasConsoleProcess(status: SimulatedVm['status']): boolean {
  return status !== 'STOPPED' && status !== 'DELETED';
}

export interface WebsockifyOptions {
  credentials: VncCredentialStore;
  vmById(id: string): SimulatedVm | undefined;
  consoleFor: ConsoleLocator | undefined;
  takeFault(pathname: string): FaultRule | null;
  record(entry: WebsockifyLogEntry): void;
  /** Pause reading the console socket while more than this many bytes wait to go to the browser. */
  highWaterMark: number;
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${status} ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Open the console socket, paused so nothing is lost before the WebSocket exists. */
function connectConsole(target: ConsoleEndpoint): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const tcp = net.connect({ host: target.host, port: target.port });
    tcp.pause();
    const onError = (): void => {
      tcp.destroy();
      resolve(null);
    };
    tcp.once('error', onError);
    tcp.once('connect', () => {
      tcp.off('error', onError);
      resolve(tcp);
    });
  });
}

/**
 * Pipe WebSocket <-> TCP with backpressure both ways: the console socket is paused while the
 * WebSocket's send buffer is above the high-water mark (resumed once a send completes below half
 * of it), and the WebSocket is paused while the console socket's write buffer is full.
 */
export function bridge(ws: WebSocket, tcp: net.Socket, highWaterMark: number): void {
  let tcpPaused = false;
  const lowWaterMark = Math.floor(highWaterMark / 2);
  const onSent = (): void => {
    if (tcpPaused && ws.bufferedAmount <= lowWaterMark) {
      tcpPaused = false;
      tcp.resume();
    }
  };
  tcp.on('data', (chunk: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(chunk, { binary: true }, onSent);
    if (ws.bufferedAmount > highWaterMark) {
      tcpPaused = true;
      tcp.pause();
    }
  });
  ws.on('message', (data: RawData) => {
    if (!tcp.write(toBuffer(data))) ws.pause();
  });
  tcp.on('drain', () => ws.resume());
  tcp.on('close', () => {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(CLOSE_TARGET_CLOSED.code, CLOSE_TARGET_CLOSED.reason);
  });
  tcp.on('error', () => tcp.destroy());
  ws.on('close', () => {
    // Flush what the browser sent, then drop the console connection.
    if (!tcp.destroyed) tcp.end(() => tcp.destroy());
  });
  ws.on('error', () => tcp.destroy());
  tcp.resume();
}

export class Websockify {
  readonly #options: WebsockifyOptions;
  readonly #wss: WebSocketServer;
  /** Console sockets of the sessions bridged now, by the VM they belong to. */
  readonly #consoleSockets = new Map<string, Set<net.Socket>>();

  constructor(options: WebsockifyOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      // websockify >= 0.9 selects `binary` when offered and otherwise no subprotocol (it no longer
      // speaks legacy `base64`), still completing the handshake.
      handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
    });
  }

  /** Handle an HTTP upgrade; returns false when the path is not websockify's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    if (!WEBSOCKIFY_PATHS.has(url.pathname)) return false;
    socket.on('error', () => socket.destroy());
    void this.#upgrade(req, socket, head, url);
    return true;
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const uuid = url.searchParams.get('uuid');
    const host = url.searchParams.get('host');
    const token = url.searchParams.get('token');
    const entry: WebsockifyLogEntry = { uuid, host, form: null, status: 0, protocol: '', vmId: null };
    const fault = this.#options.takeFault(url.pathname);
    if (fault) {
      entry.status = fault.kind === 'error' ? (fault.status ?? 500) : fault.kind === 'garbage' ? 200 : 0;
      this.#options.record(entry);
      if (fault.kind === 'error') refuse(socket, entry.status, 'Internal Server Error');
      else if (fault.kind === 'garbage') socket.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${GARBAGE_BODY}`);
      return; // 'hang': leave the socket open until the client gives up
    }

    const match = uuid && host && token ? this.#options.credentials.match({ uuid, host, token }) : null;
    const vm = match ? this.#options.vmById(match.vmId) : undefined;
    if (!match || !vm) {
      entry.status = 403;
      this.#options.record(entry);
      refuse(socket, 403, 'Forbidden');
      return;
    }
    entry.form = match.form;
    entry.vmId = vm.id;

    let target: ConsoleEndpoint | null;
    try {
      // A powered-off or deleted VM has no QEMU process, so no VNC server to bridge to: websockify
      // upgrades and closes, as it does for any unreachable target (*unverified* for CloudTower).
      target = hasConsoleProcess(vm.status) ? (this.#options.consoleFor?.(toApiVm(vm)) ?? null) : null;
    } catch {
      target = null; // a faulty locator is an unreachable console, not a crashed simulator
    }
    let tcp = target ? await connectConsole(target) : null;
    // Stopped while the console was being dialled: its process is gone.
    if (tcp && !hasConsoleProcess(vm.status)) {
      tcp.destroy();
      tcp = null;
    }
    if (tcp) this.#track(vm.id, tcp);
    if (socket.destroyed) {
      tcp?.destroy();
      return;
    }
    // ws answers a malformed handshake itself without calling back: do not leak the console socket.
    let upgraded = false;
    socket.once('close', () => {
      if (!upgraded) tcp?.destroy();
    });

    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      entry.status = 101;
      entry.protocol = ws.protocol;
      this.#options.record(entry);
      if (!tcp) {
        ws.close(CLOSE_CONSOLE_UNAVAILABLE, 'console unavailable');
        return;
      }
      bridge(ws, tcp, this.#options.highWaterMark);
    });
  }

  /**
   * The VM's process ended (stopped, deleted): its VNC server's connections close, and websockify
   * closes each bridged WebSocket as it does when a target closes (1000 "Target closed").
   */
  dropVm(vmId: string): void {
    for (const tcp of this.#consoleSockets.get(vmId) ?? []) tcp.destroy();
  }

  /** Drop every console session. */
  close(): void {
    for (const ws of this.#wss.clients) ws.terminate();
    for (const sockets of this.#consoleSockets.values()) for (const tcp of sockets) tcp.destroy();
    this.#wss.close();
  }

  #track(vmId: string, tcp: net.Socket): void {
    let sockets = this.#consoleSockets.get(vmId);
    if (!sockets) this.#consoleSockets.set(vmId, (sockets = new Set()));
    sockets.add(tcp);
    tcp.on('close', () => {
      sockets.delete(tcp);
      if (sockets.size === 0 && this.#consoleSockets.get(vmId) === sockets) this.#consoleSockets.delete(vmId);
    });
  }
}
