/**
 * The gateway's console-proxy arrangement, end to end over real sockets: a passwordless browser-side
 * client talks None to a relay (BrowserNoneSecurityServer), the relay authenticates to the VNC server
 * with the password (UpstreamVncAuthenticator), then pipes the identical post-security stream.
 */
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RfbErrorCode } from '../../src/rfb/errors.js';
import { BrowserNoneSecurityServer, UpstreamVncAuthenticator } from '../../src/rfb/handshake.js';
import type { HandshakeStep } from '../../src/rfb/handshake.js';
import { ScreenColour, VncSessionFailure, startRfbServer, type RfbServer } from '../../src/simulators/vnc/index.js';
import { RfbTestClient, StreamReader, connectTcp, keyEventMessage, readServerInit } from './rfb-test-client.js';

interface Relay {
  port: number;
  errors: unknown[];
  /** Resolves with each relay failure. */
  nextError(): Promise<unknown>;
  close(): Promise<void>;
}

async function startRelay(upstreamPort: number, password: string): Promise<Relay> {
  const errors: unknown[] = [];
  const sockets = new Set<Socket>();
  let onError: ((err: unknown) => void) | null = null;
  const server: Server = createServer((browser) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    for (const s of [browser, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    const browserSide = new BrowserNoneSecurityServer();
    const upstreamSide = new UpstreamVncAuthenticator({ password });
    const held = { browser: [] as Buffer[], upstream: [] as Buffer[] };
    const fail = (err: unknown) => {
      errors.push(err);
      onError?.(err);
      browser.destroy();
      upstream.destroy();
    };
    const startPiping = () => {
      if (!browserSide.done || !upstreamSide.done) return;
      browser.off('data', fromBrowser);
      upstream.off('data', fromUpstream);
      // ClientInit (and anything after) goes up only now that the upstream is authenticated.
      upstream.write(Buffer.concat(held.browser));
      browser.write(Buffer.concat(held.upstream));
      browser.pipe(upstream);
      upstream.pipe(browser);
    };
    type Machine = { done: boolean; feed(chunk: Buffer): HandshakeStep };
    const handle = (machine: Machine, reply: Socket, hold: Buffer[]) => (chunk: Buffer) => {
      if (machine.done) {
        hold.push(chunk);
        return;
      }
      try {
        const step = machine.feed(chunk);
        for (const out of step.send) reply.write(out);
        if (step.done) {
          hold.push(step.rest);
          startPiping();
        }
      } catch (err) {
        fail(err);
      }
    };
    const fromBrowser = handle(browserSide, browser, held.browser);
    const fromUpstream = handle(upstreamSide, upstream, held.upstream);
    browser.on('data', fromBrowser);
    upstream.on('data', fromUpstream);
    browser.on('close', () => upstream.destroy());
    upstream.on('close', () => browser.destroy());
    browser.write(browserSide.start());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    errors,
    nextError: () => new Promise((resolve) => (onError = resolve)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setUp(serverPassword: string, relayPassword: string): Promise<{ vnc: RfbServer; relay: Relay }> {
  const vnc = await startRfbServer({ name: 'guarded-vm', password: serverPassword, tickMs: 0 });
  cleanup.push(() => vnc.close());
  const relay = await startRelay(vnc.port, relayPassword);
  cleanup.push(() => relay.close());
  return { vnc, relay };
}

describe('browser None <-> gateway <-> VNC Authentication server', () => {
  it('a passwordless client gets ServerInit and a real framebuffer update', async () => {
    const { vnc, relay } = await setUp('vm-secret', 'vm-secret');
    const browser = await RfbTestClient.connect(relay.port, { password: null });
    cleanup.push(() => browser.close());
    expect(browser.serverInit).toMatchObject({ width: 640, height: 400, name: 'guarded-vm' });

    browser.requestUpdate(false);
    const [rect] = await browser.readUpdate();
    expect(rect).toMatchObject({ x: 0, y: 0, width: 640, height: 400 });
    expect(browser.coloursIn(vnc.layout.name)).toContain(ScreenColour.Text);

    const input = once(vnc, 'input');
    browser.send(keyEventMessage(true, 0x71));
    expect((await input)[0]).toEqual({ type: 'key', down: true, keysym: 0x71 });
    expect(relay.errors).toEqual([]);
  });

  it('a 3.3 browser client works against a 3.8 VNC-auth upstream', async () => {
    const { relay } = await setUp('pw', 'pw');
    const socket = await connectTcp(relay.port);
    cleanup.push(() => socket.destroy());
    const reader = new StreamReader(socket);
    expect((await reader.read(12)).toString()).toBe('RFB 003.008\n');
    socket.write('RFB 003.003\n');
    expect((await reader.read(4)).readUInt32BE(0)).toBe(1);
    socket.write(Buffer.from([1]));
    expect((await readServerInit(reader)).name).toBe('guarded-vm');
  });

  it('a wrong gateway password closes the browser connection and reports RFB_AUTH_FAILED', async () => {
    const { vnc, relay } = await setUp('vm-secret', 'not-it');
    const relayError = relay.nextError();
    const serverError = once(vnc, 'sessionError');
    const socket = await connectTcp(relay.port);
    cleanup.push(() => socket.destroy());
    const reader = new StreamReader(socket);
    await reader.read(12);
    socket.write(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1])]));
    expect(await relayError).toMatchObject({ code: RfbErrorCode.AuthFailed, reason: 'authentication failed' });
    expect((await serverError)[0]).toMatchObject({ code: VncSessionFailure.AuthFailed });
    await reader.closed;
    // The browser saw only the None handshake, never a ServerInit.
    expect(reader.buffered).toBeLessThanOrEqual(2 + 4);
  });
});
