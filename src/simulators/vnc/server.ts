/**
 * A small simulated VNC server (RFB 3.8, also answering 3.3 and 3.7 clients) that the upstream
 * simulators use as each VM's live console. Real TCP via node:net, or any duplex stream via `attach`
 * (e.g. a simulated websockify handing over its WebSocket stream).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { VncSessionError } from './errors.js';
import { Framebuffer } from './framebuffer.js';
import { ConsoleScreen, ScreenColour } from './screen.js';
import type { ScreenLayout } from './screen.js';
import { RfbServerSession } from './session.js';
import type { RfbInputEvent } from './session.js';

export interface RfbServerOptions {
  /** Desktop name: sent in ServerInit and drawn at the top of the screen. */
  name: string;
  /** Framebuffer width, pixels. @default 640 */
  width?: number;
  /** Framebuffer height, pixels. @default 400 */
  height?: number;
  /**
   * VNC password. When set, only security type 2 (VNC Authentication) is offered; otherwise only
   * type 1 (None). Only the first 8 bytes count, as in every VNC server.
   * @default null
   */
  password?: string | null;
  /** Address to listen on; keep it loopback unless you mean it. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one (read it back from `port`). @default 0 */
  port?: number;
  /** How often the on-screen counter and clock advance, milliseconds; 0 stops them. @default 1000 */
  tickMs?: number;
  /** Clock for the on-screen time, epoch milliseconds. @default Date.now */
  now?: () => number;
  /** Source of VNC Authentication challenges. @default node:crypto randomBytes */
  randomBytes?: (size: number) => Buffer;
  /** Called for each key, pointer and clipboard message any client sends (also emitted as 'input'). */
  onInput?: (event: RfbInputEvent) => void;
  /** Whether the VM this console belongs to runs at the start; see `setPowered`. @default true */
  powered?: boolean;
}

export interface RfbServerEvents {
  input: [event: RfbInputEvent];
  /** A connection was closed because of a protocol or authentication failure (a VncSessionError), or a bug. */
  sessionError: [error: unknown];
}

interface Connection {
  stream: Duplex;
  session: RfbServerSession;
}

const MAX_DIMENSION = 0xffff;

export class RfbServer extends EventEmitter<RfbServerEvents> {
  readonly name: string;
  readonly host: string;
  readonly width: number;
  readonly height: number;
  readonly #options: RfbServerOptions;
  readonly #framebuffer: Framebuffer;
  readonly #screen: ConsoleScreen;
  readonly #connections = new Set<Connection>();
  readonly #now: () => number;
  #tcp: Server | null = null;
  #port = 0;
  #timer: NodeJS.Timeout | null = null;
  #ticks = 0;
  #renderScheduled = false;
  #closed = false;
  #powered: boolean;

  /** Builds the server without listening; use `startRfbServer` for a TCP listener, or just `attach`. */
  constructor(options: RfbServerOptions) {
    super();
    this.#options = options;
    this.name = options.name;
    this.host = options.host ?? '127.0.0.1';
    this.width = options.width ?? 640;
    this.height = options.height ?? 400;
    if (![this.width, this.height].every((n) => Number.isInteger(n) && n > 0 && n <= MAX_DIMENSION)) {
      throw new RangeError(`framebuffer size must be 1..${MAX_DIMENSION} pixels each way`);
    }
    this.#now = options.now ?? Date.now;
    this.#powered = options.powered ?? true;
    this.#framebuffer = new Framebuffer(this.width, this.height, ScreenColour.Background);
    this.#screen = new ConsoleScreen(this.#framebuffer, options.name);
    this.#screen.setTime(0, this.#now());
    this.#screen.render();
    const tickMs = options.tickMs ?? 1000;
    if (tickMs > 0) {
      this.#timer = setInterval(() => this.#tick(), tickMs);
      this.#timer.unref();
    }
  }

  /** The listening TCP port (0 until `listen` has finished, and for attach-only servers). */
  get port(): number {
    return this.#port;
  }

  /** Open client connections, TCP and attached streams alike. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Whether the VM runs, so that its console is served (`setPowered`). */
  get powered(): boolean {
    return this.#powered;
  }

  /**
   * Power the VM off or on. A hypervisor runs a VM's VNC server inside the VM's own process (QEMU),
   * so a powered-off VM has none: powering off drops every open connection as the process exits,
   * and until it is powered on again each new connection is closed before the RFB banner. A real
   * host would refuse the connection outright (no listener); the port is kept here so the VM comes
   * back on the same one, as it does on a real host, and a client sees the same thing either way:
   * no console, not one byte of RFB.
   */
  setPowered(on: boolean): void {
    if (this.#powered === on) return;
    this.#powered = on;
    if (on) return;
    for (const { stream } of this.#connections) stream.destroy();
    this.#connections.clear();
  }

  /** Where the name, status line and input lines are drawn. */
  get layout(): ScreenLayout {
    return this.#screen.layout;
  }

  /** Starts the TCP listener on `host`:`port`. */
  async listen(): Promise<void> {
    if (this.#tcp) return;
    const tcp = createServer((socket: Socket) => this.attach(socket));
    this.#tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.#options.port ?? 0, this.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    const address = tcp.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
  }

  /** Serves RFB on an already-connected duplex stream, starting with the server's version banner. */
  attach(stream: Duplex): void {
    if (this.#closed || !this.#powered) {
      stream.destroy();
      return;
    }
    if ('setNoDelay' in stream && typeof stream.setNoDelay === 'function') (stream as Socket).setNoDelay(true);
    const session = new RfbServerSession({
      framebuffer: this.#framebuffer,
      name: this.name,
      password: this.#options.password ?? null,
      randomBytes: this.#options.randomBytes ?? cryptoRandomBytes,
      send: (chunks) => {
        if (stream.destroyed || stream.writableEnded) return;
        stream.cork();
        for (const chunk of chunks) stream.write(chunk);
        stream.uncork();
      },
      onInput: (event) => this.#handleInput(event),
    });
    const connection: Connection = { stream, session };
    this.#connections.add(connection);
    stream.on('close', () => this.#connections.delete(connection));
    // A reset or write after close surfaces as 'error'; 'close' follows and does the cleanup.
    stream.on('error', () => {});
    // Duplex streams default to allowHalfOpen: end our side too when the client ends.
    stream.on('end', () => stream.end());
    stream.on('data', (chunk: Buffer | string) => {
      try {
        session.feed(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      } catch (err) {
        this.#fail(stream, err);
      }
    });
    session.start();
  }

  /** Stops ticking and listening, and destroys every open connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const { stream } of this.#connections) stream.destroy();
    this.#connections.clear();
    const tcp = this.#tcp;
    this.#tcp = null;
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  #fail(stream: Duplex, err: unknown): void {
    const reply = err instanceof VncSessionError ? err.reply : [];
    if (reply.length > 0 && !stream.destroyed && !stream.writableEnded) {
      // Say why (a failed SecurityResult), then close once it is flushed.
      stream.once('finish', () => stream.destroy());
      stream.end(Buffer.concat(reply));
    } else {
      stream.destroy();
    }
    this.emit('sessionError', err);
  }

  /** Input events received from every client so far, by kind (view-only tests check none arrive). */
  readonly inputCounts = { key: 0, pointer: 0, cutText: 0 };

  #handleInput(event: RfbInputEvent): void {
    this.inputCounts[event.type]++;
    if (event.type === 'key') this.#screen.setKey(event.keysym, event.down);
    else if (event.type === 'pointer') this.#screen.setPointer(event.x, event.y, event.mask);
    this.#options.onInput?.(event);
    this.emit('input', event);
    // Many pointer events often arrive in one chunk: draw once after the chunk is handled.
    if (!this.#renderScheduled) {
      this.#renderScheduled = true;
      queueMicrotask(() => {
        this.#renderScheduled = false;
        this.#render();
      });
    }
  }

  #tick(): void {
    this.#ticks += 1;
    this.#screen.setTime(this.#ticks, this.#now());
    this.#render();
  }

  #render(): void {
    if (this.#closed || !this.#screen.render()) return;
    for (const { session } of this.#connections) session.framebufferChanged();
  }
}

/** Creates an RfbServer and starts its TCP listener. */
export async function startRfbServer(options: RfbServerOptions): Promise<RfbServer> {
  const server = new RfbServer(options);
  try {
    await server.listen();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
