import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { vncAuthResponse } from '../../../src/rfb/des.js';
import { RfbError, RfbErrorCode } from '../../../src/rfb/errors.js';
import { VncSessionFailure } from '../../../src/simulators/vnc/errors.js';
import { ScreenColour } from '../../../src/simulators/vnc/screen.js';
import { startRfbServer } from '../../../src/simulators/vnc/server.js';
import type { RfbServer, RfbServerOptions } from '../../../src/simulators/vnc/server.js';
import type { RfbInputEvent } from '../../../src/simulators/vnc/session.js';
import {
  RfbTestClient,
  StreamReader,
  connectTcp,
  keyEventMessage,
  pointerEventMessage,
  readServerInit,
  setEncodingsMessage,
  setPixelFormatMessage,
  updateRequest,
} from '../../rfb/rfb-test-client.js';

const servers: RfbServer[] = [];
const sockets: Duplex[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Partial<RfbServerOptions> = {}): Promise<RfbServer> {
  // tickMs 0 unless a test drives time itself: no spontaneous screen changes.
  const server = await startRfbServer({ name: 'vm-01', tickMs: 0, ...options });
  servers.push(server);
  return server;
}

async function client(server: RfbServer, password?: string | null): Promise<RfbTestClient> {
  const c = await RfbTestClient.connect(server.port, { password });
  sockets.push(c.stream);
  return c;
}

async function raw(server: RfbServer): Promise<{ socket: Socket; reader: StreamReader }> {
  const socket = await connectTcp(server.port);
  sockets.push(socket);
  return { socket, reader: new StreamReader(socket) };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('RFB server handshake', () => {
  it('None: ServerInit carries the size, the 32bpp default format and the name', async () => {
    const server = await start({ name: 'web-01', width: 320, height: 200 });
    const c = await client(server);
    expect(c.serverInit).toEqual({
      width: 320,
      height: 200,
      name: 'web-01',
      pixelFormat: {
        bitsPerPixel: 32,
        depth: 24,
        bigEndian: false,
        trueColour: true,
        redMax: 255,
        greenMax: 255,
        blueMax: 255,
        redShift: 16,
        greenShift: 8,
        blueShift: 0,
      },
    });
    expect(server.connectionCount).toBe(1);
  });

  it('offers only None without a password, only VNC Authentication with one', async () => {
    const open = await start();
    const a = await raw(open);
    expect((await a.reader.read(12)).toString()).toBe('RFB 003.008\n');
    a.socket.write('RFB 003.008\n');
    expect(await a.reader.read(2)).toEqual(Buffer.from([1, 1]));

    const locked = await start({ password: 'pw' });
    const b = await raw(locked);
    await b.reader.read(12);
    b.socket.write('RFB 003.008\n');
    expect(await b.reader.read(2)).toEqual(Buffer.from([1, 2]));
  });

  it('VNC Authentication with the right password', async () => {
    const server = await start({ password: 'vm-secret' });
    const c = await client(server, 'vm-secret');
    expect(c.serverInit.name).toBe('vm-01');
  });

  it('VNC Authentication with a wrong password: SecurityResult failed with a reason, then close', async () => {
    const server = await start({ password: 'vm-secret' });
    const failures = once(server, 'sessionError');
    const err = await RfbTestClient.connect(server.port, { password: 'guess' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RfbError);
    expect(err).toMatchObject({ code: RfbErrorCode.AuthFailed, reason: 'authentication failed' });
    const [serverSide] = await failures;
    expect(serverSide).toMatchObject({ code: VncSessionFailure.AuthFailed });
    expect(String((serverSide as Error).message)).not.toContain('vm-secret');
  });

  it('uses a fresh challenge from the injected source and checks the response against it', async () => {
    const challenge = Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex');
    const server = await start({ password: 'pw', randomBytes: () => Buffer.from(challenge) });
    const { socket, reader } = await raw(server);
    await reader.read(12);
    socket.write(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([2])]));
    expect(await reader.read(2)).toEqual(Buffer.from([1, 2]));
    expect(await reader.read(16)).toEqual(challenge);
    socket.write(vncAuthResponse('pw', challenge));
    expect(await reader.read(4)).toEqual(u32(0));
  });

  it('a 3.3 client: the server names the type as a u32 and sends no reason on failure', async () => {
    const challenge = Buffer.alloc(16, 7);
    const server = await start({ password: 'pw', randomBytes: () => Buffer.from(challenge) });
    const ok = await raw(server);
    await ok.reader.read(12);
    ok.socket.write('RFB 003.003\n');
    expect(await ok.reader.read(4)).toEqual(u32(2));
    expect(await ok.reader.read(16)).toEqual(challenge);
    ok.socket.write(Buffer.concat([vncAuthResponse('pw', challenge), Buffer.from([1])]));
    expect(await ok.reader.read(4)).toEqual(u32(0));
    expect((await readServerInit(ok.reader)).name).toBe('vm-01');

    const bad = await raw(server);
    await bad.reader.read(12);
    bad.socket.write('RFB 003.003\n');
    await bad.reader.read(20);
    bad.socket.write(Buffer.alloc(16));
    expect(await bad.reader.read(4)).toEqual(u32(1));
    await bad.reader.closed;
    expect(bad.reader.buffered).toBe(0);
  });

  it('a 3.7 client with None: no SecurityResult before ServerInit', async () => {
    const server = await start();
    const { socket, reader } = await raw(server);
    await reader.read(12);
    socket.write('RFB 003.007\n');
    expect(await reader.read(2)).toEqual(Buffer.from([1, 1]));
    socket.write(Buffer.from([1, 1]));
    const init = await readServerInit(reader);
    expect(init).toMatchObject({ width: 640, height: 400, name: 'vm-01' });
  });

  it('a client without a password cannot use a password-protected server', async () => {
    const server = await start({ password: 'pw' });
    const err = await RfbTestClient.connect(server.port).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: RfbErrorCode.PasswordRequired });
  });
});

describe('RFB server framebuffer updates', () => {
  it('a non-incremental request gets the whole frame, with the name drawn in the text colour', async () => {
    const server = await start({ name: 'db-02' });
    const c = await client(server);
    c.requestUpdate(false);
    const rects = await c.readUpdate();
    expect(rects.map(({ x, y, width, height }) => ({ x, y, width, height }))).toEqual([{ x: 0, y: 0, width: 640, height: 400 }]);
    expect(rects[0]!.raw.length).toBe(640 * 400 * 4);
    expect(c.coloursIn(server.layout.name)).toContain(ScreenColour.Text);
    expect(c.coloursIn(server.layout.status)).toContain(ScreenColour.Text);
    expect(c.pixel(639, 399)).toBe(ScreenColour.Background);
    // Nothing but background below the text block.
    expect(c.coloursIn({ x: 0, y: 300, width: 640, height: 100 })).toEqual(new Set([ScreenColour.Background]));
  });

  it('holds an incremental request until a tick changes the counter, then sends only what changed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = Date.UTC(2024, 0, 1, 12, 0, 0);
    const server = await start({ tickMs: 1000, now: () => now });
    const c = await client(server);
    c.requestUpdate(false);
    await c.readUpdate();
    const before = c.image.slice();

    c.requestUpdate(true);
    // A later non-incremental request is answered first: the incremental one is being held.
    c.requestUpdate(false, { x: 5, y: 5, width: 1, height: 1 });
    const probe = await c.readUpdate();
    expect(probe.map(({ x, y, width, height }) => ({ x, y, width, height }))).toEqual([{ x: 5, y: 5, width: 1, height: 1 }]);

    now += 1000;
    vi.advanceTimersByTime(1000);
    const changed = await c.readUpdate();
    expect(changed.length).toBeGreaterThan(0);
    const status = server.layout.status;
    for (const rect of changed) {
      // Every rectangle touches the status line, none reaches up into the name.
      expect(rect.y).toBeLessThan(status.y + status.height);
      expect(rect.y + rect.height).toBeGreaterThan(status.y);
      expect(rect.y).toBeGreaterThanOrEqual(server.layout.name.y + server.layout.name.height);
    }
    const area = changed.reduce((sum, r) => sum + r.width * r.height, 0);
    expect(area).toBeLessThan((640 * 400) / 4);
    const differs = [...c.image].some((px, i) => px !== before[i]);
    expect(differs).toBe(true);
  });

  it('a long name on a small screen is drawn smaller and cut to fit', async () => {
    const server = await start({ name: 'a-rather-long-virtual-machine-name', width: 160, height: 120 });
    expect(server.layout.name.width).toBeLessThanOrEqual(160 - 32);
    expect(server.layout.name.height).toBe(14);
    const c = await client(server);
    expect(c.serverInit.name).toBe('a-rather-long-virtual-machine-name');
    c.requestUpdate(false);
    await c.readUpdate();
    expect(c.coloursIn(server.layout.name)).toContain(ScreenColour.Text);
  });

  it('SetPixelFormat 16bpp RGB565, big- and little-endian', async () => {
    const server = await start();
    const c = await client(server);
    const rgb565 = {
      bitsPerPixel: 16 as const,
      depth: 16,
      bigEndian: true,
      trueColour: true,
      redMax: 31,
      greenMax: 63,
      blueMax: 31,
      redShift: 11,
      greenShift: 5,
      blueShift: 0,
    };
    c.setPixelFormat(rgb565);
    c.requestUpdate(false, { x: 630, y: 390, width: 10, height: 10 });
    const [big] = await c.readUpdate();
    expect(big!.raw.length).toBe(10 * 10 * 2);
    // Background 0x101820 -> r 2/31, g 6/63, b 4/31 -> 0x10c4.
    expect(big!.raw.subarray(0, 2)).toEqual(Buffer.from([0x10, 0xc4]));

    c.setPixelFormat({ ...rgb565, bigEndian: false });
    c.requestUpdate(false);
    const [little] = await c.readUpdate();
    expect(little!.raw.subarray(little!.raw.length - 2)).toEqual(Buffer.from([0xc4, 0x10]));
    // Text 0xe8e8e8 -> r 28/31, g 57/63, b 28/31 -> 0xe73c, which reads back as 0xe6e7e6.
    expect(c.coloursIn(server.layout.name)).toContain(0xe6e7e6);
    const values = new Set<number>();
    for (let i = 0; i < little!.raw.length; i += 2) values.add(little!.raw.readUInt16LE(i));
    expect(values).toContain(0xe73c);
  });

  it('other true-colour layouts: 32bpp big-endian BGR and 8bpp BGR233', async () => {
    const server = await start();
    const c = await client(server);
    c.setPixelFormat({
      bitsPerPixel: 32,
      depth: 24,
      bigEndian: true,
      trueColour: true,
      redMax: 255,
      greenMax: 255,
      blueMax: 255,
      redShift: 0,
      greenShift: 8,
      blueShift: 16,
    });
    c.requestUpdate(false, { x: 0, y: 399, width: 1, height: 1 });
    expect((await c.readUpdate())[0]!.raw).toEqual(Buffer.from([0x00, 0x20, 0x18, 0x10]));

    c.setPixelFormat({
      bitsPerPixel: 8,
      depth: 8,
      bigEndian: false,
      trueColour: true,
      redMax: 7,
      greenMax: 7,
      blueMax: 3,
      redShift: 0,
      greenShift: 3,
      blueShift: 6,
    });
    c.requestUpdate(false, { x: 0, y: 399, width: 1, height: 1 });
    // r 0x10 -> 0, g 0x18 -> 1, b 0x20 -> 0
    expect((await c.readUpdate())[0]!.raw).toEqual(Buffer.from([0b00_001_000]));
  });

  it('a colour-map pixel format closes the connection', async () => {
    const server = await start();
    const c = await client(server);
    const failure = once(server, 'sessionError');
    c.send(setPixelFormatMessage({ ...c.pixelFormat, bitsPerPixel: 8, depth: 8, trueColour: false }));
    expect((await failure)[0]).toMatchObject({ code: VncSessionFailure.Protocol });
    await c.reader.closed;
  });

  it('key and pointer events reach listeners and show on screen', async () => {
    const inputs: RfbInputEvent[] = [];
    const server = await start({ onInput: (e) => inputs.push(e) });
    const emitted: RfbInputEvent[] = [];
    server.on('input', (e) => emitted.push(e));
    const c = await client(server);
    c.requestUpdate(false);
    await c.readUpdate();

    c.requestUpdate(true);
    c.send(keyEventMessage(true, 0x61), pointerEventMessage(1, 300, 250));
    const rects = await c.readUpdate();
    expect(inputs).toEqual([
      { type: 'key', down: true, keysym: 0x61 },
      { type: 'pointer', mask: 1, x: 300, y: 250 },
    ]);
    expect(emitted).toEqual(inputs);
    // One coalesced update covering both the input lines and the marker.
    const covers = (x: number, y: number) => rects.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
    expect(covers(300, 250)).toBe(true);
    expect(c.pixel(300, 250)).toBe(ScreenColour.Marker);
    expect(c.coloursIn(server.layout.input)).toContain(ScreenColour.Dim);
    expect(covers(0, 0)).toBe(false);
  });

  it('ClientCutText is reported, and SetEncodings with unknown encodings is ignored', async () => {
    const server = await start();
    const c = await client(server);
    const cut = once(server, 'input');
    const text = Buffer.from('hello');
    const header = Buffer.alloc(8);
    header.writeUInt8(6, 0);
    header.writeInt32BE(text.length, 4);
    c.send(setEncodingsMessage([7, 16, -223, -239, 0x574d5664]), header, text);
    expect((await cut)[0]).toEqual({ type: 'cutText', text: 'hello' });
    c.requestUpdate(false, { x: 0, y: 0, width: 2, height: 2 });
    expect((await c.readUpdate())[0]).toMatchObject({ encoding: 0, width: 2, height: 2 });
  });

  it('handles a whole session coalesced into one write', async () => {
    const server = await start();
    const { socket, reader } = await raw(server);
    await reader.read(12);
    socket.write(
      Buffer.concat([
        Buffer.from('RFB 003.008\n'),
        Buffer.from([1]), // security None
        Buffer.from([1]), // ClientInit
        setEncodingsMessage([0, -223]),
        updateRequest(false, { x: 0, y: 0, width: 4, height: 4 }),
        keyEventMessage(true, 0xff0d),
        updateRequest(false, { x: 1, y: 1, width: 1, height: 1 }),
      ]),
    );
    expect(await reader.read(2)).toEqual(Buffer.from([1, 1]));
    expect(await reader.read(4)).toEqual(u32(0));
    await readServerInit(reader);
    expect((await reader.read(16)).readUInt16BE(2)).toBe(1);
    await reader.read(4 * 4 * 4);
    const second = await reader.read(16);
    expect(second.readUInt16BE(4)).toBe(1);
    expect(second.readUInt16BE(8)).toBe(1);
  });

  it('handles every message split into single bytes (attached stream)', async () => {
    const server = await start({ password: 'pw', randomBytes: () => Buffer.alloc(16, 0x42) });
    const fromServer: Buffer[] = [];
    let notify: () => void = () => {};
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        fromServer.push(chunk);
        notify();
        callback();
      },
    });
    sockets.push(stream);
    const receivedAtLeast = async (bytes: number) => {
      while (Buffer.concat(fromServer).length < bytes) await new Promise<void>((resolve) => (notify = resolve));
      return Buffer.concat(fromServer);
    };
    server.attach(stream);
    expect(server.connectionCount).toBe(1);
    const pushBytewise = (bytes: Buffer) => {
      for (const byte of bytes) stream.push(Buffer.from([byte]));
    };
    await receivedAtLeast(12);
    pushBytewise(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([2])]));
    await receivedAtLeast(12 + 2 + 16);
    pushBytewise(Buffer.concat([vncAuthResponse('pw', Buffer.alloc(16, 0x42)), Buffer.from([0])]));
    const initEnd = 12 + 2 + 16 + 4 + 24 + 'vm-01'.length;
    const afterInit = await receivedAtLeast(initEnd);
    expect(afterInit.readUInt32BE(30)).toBe(0);
    expect(afterInit.subarray(initEnd - 5, initEnd).toString()).toBe('vm-01');
    pushBytewise(
      Buffer.concat([
        setPixelFormatMessage({
          bitsPerPixel: 16,
          depth: 16,
          bigEndian: false,
          trueColour: true,
          redMax: 31,
          greenMax: 63,
          blueMax: 31,
          redShift: 11,
          greenShift: 5,
          blueShift: 0,
        }),
        updateRequest(false, { x: 0, y: 0, width: 3, height: 2 }),
      ]),
    );
    const all = await receivedAtLeast(initEnd + 4 + 12 + 3 * 2 * 2);
    const update = all.subarray(initEnd);
    expect(update.readUInt16BE(2)).toBe(1);
    expect(update.readUInt16BE(8)).toBe(3);
    // The header band 0x1c2b3a -> r 3/31, g 11/63, b 7/31 -> 0x1967, little-endian.
    expect(update.subarray(16, 18)).toEqual(Buffer.from([0x67, 0x19]));
  });

  it('a garbage client is closed without disturbing another client', async () => {
    const server = await start();
    const good = await client(server);
    const bad = await raw(server);
    const failure = once(server, 'sessionError');
    await bad.reader.read(12);
    bad.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await failure)[0]).toMatchObject({ code: VncSessionFailure.Protocol });
    await bad.reader.closed;

    const afterHandshake = await client(server);
    const failure2 = once(server, 'sessionError');
    afterHandshake.send(Buffer.from([99, 1, 2, 3]));
    expect((await failure2)[0]).toMatchObject({ code: VncSessionFailure.Protocol });
    await afterHandshake.reader.closed;

    good.requestUpdate(false);
    expect((await good.readUpdate())[0]).toMatchObject({ width: 640, height: 400 });
    expect(server.connectionCount).toBe(1);
  });

  it('close() ends open connections', async () => {
    const server = await start();
    const a = await client(server);
    const b = await raw(server);
    expect(server.connectionCount).toBe(2);
    await server.close();
    await Promise.all([a.reader.closed, b.reader.closed]);
    expect(server.connectionCount).toBe(0);
  });
});
