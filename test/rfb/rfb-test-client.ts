/**
 * A small RFB client for tests: a promise-based byte reader over any duplex stream, the security
 * handshake (via the gateway's own UpstreamVncAuthenticator), ServerInit, and Raw FramebufferUpdates
 * decoded into a 0xRRGGBB image.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { UpstreamVncAuthenticator } from '../../src/rfb/handshake.js';
import { DEFAULT_PIXEL_FORMAT, decodePixelFormat, encodePixelFormat, type PixelFormat, type Rect } from '../../src/simulators/vnc/index.js';

/** Buffers a stream's bytes so a test can await exact byte counts; rejects if the stream closes first. */
export class StreamReader {
  #buffer = Buffer.alloc(0);
  #closed = false;
  #waiter: (() => void) | null = null;
  readonly closed: Promise<void>;

  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#waiter?.();
    });
    stream.on('error', () => {});
    this.closed = new Promise((resolve) => {
      stream.once('close', () => {
        this.#closed = true;
        this.#waiter?.();
        resolve();
      });
    });
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /** Exactly `length` bytes. */
  async read(length: number): Promise<Buffer> {
    while (this.#buffer.length < length) await this.#wait();
    const out = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(length);
    return out;
  }

  /** Whatever is buffered, waiting for at least one byte. */
  async readSome(): Promise<Buffer> {
    while (this.#buffer.length === 0) await this.#wait();
    const out = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return out;
  }

  /** Puts bytes back at the front. */
  unshift(bytes: Buffer): void {
    this.#buffer = Buffer.concat([bytes, this.#buffer]);
  }

  #wait(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`stream closed with ${this.#buffer.length} bytes unread`));
    return new Promise((resolve) => {
      this.#waiter = () => {
        this.#waiter = null;
        resolve();
      };
    });
  }
}

export function connectTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface ServerInit {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  name: string;
}

export async function readServerInit(reader: StreamReader): Promise<ServerInit> {
  const header = await reader.read(24);
  const nameLength = header.readUInt32BE(20);
  const name = (await reader.read(nameLength)).toString('utf8');
  return {
    width: header.readUInt16BE(0),
    height: header.readUInt16BE(2),
    pixelFormat: decodePixelFormat(header.subarray(4, 20)),
    name,
  };
}

export function updateRequest(incremental: boolean, rect: Rect): Buffer {
  const msg = Buffer.alloc(10);
  msg.writeUInt8(3, 0);
  msg.writeUInt8(incremental ? 1 : 0, 1);
  msg.writeUInt16BE(rect.x, 2);
  msg.writeUInt16BE(rect.y, 4);
  msg.writeUInt16BE(rect.width, 6);
  msg.writeUInt16BE(rect.height, 8);
  return msg;
}

export function setPixelFormatMessage(format: PixelFormat): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0]), encodePixelFormat(format)]);
}

export function setEncodingsMessage(encodings: number[]): Buffer {
  const msg = Buffer.alloc(4 + 4 * encodings.length);
  msg.writeUInt8(2, 0);
  msg.writeUInt16BE(encodings.length, 2);
  encodings.forEach((encoding, i) => msg.writeInt32BE(encoding, 4 + 4 * i));
  return msg;
}

export function keyEventMessage(down: boolean, keysym: number): Buffer {
  const msg = Buffer.alloc(8);
  msg.writeUInt8(4, 0);
  msg.writeUInt8(down ? 1 : 0, 1);
  msg.writeUInt32BE(keysym, 4);
  return msg;
}

export function pointerEventMessage(mask: number, x: number, y: number): Buffer {
  const msg = Buffer.alloc(6);
  msg.writeUInt8(5, 0);
  msg.writeUInt8(mask, 1);
  msg.writeUInt16BE(x, 2);
  msg.writeUInt16BE(y, 4);
  return msg;
}

export interface UpdateRect extends Rect {
  encoding: number;
  /** The rectangle's pixel bytes exactly as received. */
  raw: Buffer;
}

/** An RFB client session past ServerInit, keeping a decoded copy of the screen. */
export class RfbTestClient {
  readonly stream: Duplex;
  readonly reader: StreamReader;
  readonly serverInit: ServerInit;
  /** The screen as received so far, 0xRRGGBB per pixel. */
  readonly image: Uint32Array;
  pixelFormat: PixelFormat = { ...DEFAULT_PIXEL_FORMAT };

  private constructor(stream: Duplex, reader: StreamReader, serverInit: ServerInit) {
    this.stream = stream;
    this.reader = reader;
    this.serverInit = serverInit;
    this.pixelFormat = { ...serverInit.pixelFormat };
    this.image = new Uint32Array(serverInit.width * serverInit.height);
  }

  /**
   * Handshakes (None or VNC Authentication), sends ClientInit and reads ServerInit. `shared: false`
   * asks the server for exclusive access, as noVNC does when not told `shared`.
   */
  static async handshake(stream: Duplex, options: { password?: string | null; shared?: boolean } = {}): Promise<RfbTestClient> {
    const reader = new StreamReader(stream);
    const auth = new UpstreamVncAuthenticator({ password: options.password ?? null });
    for (;;) {
      const step = auth.feed(await reader.readSome());
      for (const chunk of step.send) stream.write(chunk);
      if (step.done) {
        reader.unshift(step.rest);
        break;
      }
    }
    stream.write(Buffer.from([options.shared === false ? 0 : 1])); // ClientInit's shared flag
    return new RfbTestClient(stream, reader, await readServerInit(reader));
  }

  static async connect(port: number, options: { password?: string | null } = {}): Promise<RfbTestClient> {
    const socket = await connectTcp(port);
    try {
      return await RfbTestClient.handshake(socket, options);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  get width(): number {
    return this.serverInit.width;
  }

  send(...messages: Buffer[]): void {
    this.stream.write(Buffer.concat(messages));
  }

  setPixelFormat(format: PixelFormat): void {
    this.pixelFormat = { ...format };
    this.send(setPixelFormatMessage(format));
  }

  requestUpdate(incremental: boolean, rect?: Rect): void {
    this.send(updateRequest(incremental, rect ?? { x: 0, y: 0, width: this.serverInit.width, height: this.serverInit.height }));
  }

  /** Reads one FramebufferUpdate and paints it into `image`. */
  async readUpdate(): Promise<UpdateRect[]> {
    const header = await this.reader.read(4);
    if (header[0] !== 0) throw new Error(`expected FramebufferUpdate, got message type ${header[0]}`);
    const count = header.readUInt16BE(2);
    const rects: UpdateRect[] = [];
    const bytesPerPixel = this.pixelFormat.bitsPerPixel / 8;
    for (let i = 0; i < count; i++) {
      const rectHeader = await this.reader.read(12);
      const rect = {
        x: rectHeader.readUInt16BE(0),
        y: rectHeader.readUInt16BE(2),
        width: rectHeader.readUInt16BE(4),
        height: rectHeader.readUInt16BE(6),
        encoding: rectHeader.readInt32BE(8),
      };
      if (rect.encoding !== 0) throw new Error(`unexpected encoding ${rect.encoding}`);
      const raw = await this.reader.read(rect.width * rect.height * bytesPerPixel);
      this.#paint(rect, raw, bytesPerPixel);
      rects.push({ ...rect, raw });
    }
    return rects;
  }

  pixel(x: number, y: number): number {
    return this.image[y * this.serverInit.width + x]!;
  }

  /** Distinct colours inside `rect` of the decoded image. */
  coloursIn(rect: Rect): Set<number> {
    const colours = new Set<number>();
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) colours.add(this.pixel(x, y));
    }
    return colours;
  }

  close(): void {
    this.stream.destroy();
  }

  #paint(rect: Rect, raw: Buffer, bytesPerPixel: number): void {
    const f = this.pixelFormat;
    const channel = (value: number, shift: number, max: number) => Math.round((((value >>> shift) & max) * 255) / max);
    let offset = 0;
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        let value: number;
        if (bytesPerPixel === 4) value = f.bigEndian ? raw.readUInt32BE(offset) : raw.readUInt32LE(offset);
        else if (bytesPerPixel === 2) value = f.bigEndian ? raw.readUInt16BE(offset) : raw.readUInt16LE(offset);
        else value = raw[offset]!;
        offset += bytesPerPixel;
        this.image[y * this.serverInit.width + x] =
          (channel(value, f.redShift, f.redMax) << 16) |
          (channel(value, f.greenShift, f.greenMax) << 8) |
          channel(value, f.blueShift, f.blueMax);
      }
    }
  }
}
