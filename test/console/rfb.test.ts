/**
 * TCP targets with a VNC password: the gateway answers the VNC Authentication challenge itself and
 * offers the browser only security type None, so the password never reaches the browser.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { vncAuthResponse } from '../../src/rfb/des.js';
import { useCleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { startConsoleEndpoint, startTcpServer, tcpTarget } from './helpers.js';

const cleanups = useCleanups();
const clients = cleanups.sockets;

const SERVER_INIT = Buffer.from('fake-server-init');

/** Reads exact byte counts from a stream of chunks. */
function byteReader(subscribe: (on: (chunk: Buffer) => void) => void) {
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
  subscribe((chunk) => {
    buf = Buffer.concat([buf, chunk]);
    pump();
  });
  return (n: number): Promise<Buffer> =>
    new Promise((resolve) => {
      want = { n, resolve };
      pump();
    });
}

/** An RFB 3.8 server that insists on VNC Authentication, then echoes after ServerInit. */
function vncServer(password: string) {
  const seen = { authOk: 0, authFailed: 0, clientInit: [] as number[] };
  const onConnection = (socket: Socket): void => {
    const read = byteReader((on) => socket.on('data', on));
    void (async () => {
      socket.write('RFB 003.008\n');
      await read(12);
      socket.write(Buffer.from([1, 2]));
      const choice = await read(1);
      if (choice[0] !== 2) return void socket.destroy();
      const challenge = randomBytes(16);
      socket.write(challenge);
      const response = await read(16);
      if (!response.equals(vncAuthResponse(password, challenge))) {
        seen.authFailed++;
        const reason = Buffer.from('bad password');
        const len = Buffer.alloc(4);
        len.writeUInt32BE(reason.length);
        socket.end(Buffer.concat([Buffer.from([0, 0, 0, 1]), len, reason]));
        return;
      }
      seen.authOk++;
      socket.write(Buffer.from([0, 0, 0, 0]));
      seen.clientInit.push((await read(1))[0] ?? -1);
      socket.write(SERVER_INIT);
      socket.removeAllListeners('data');
      socket.pipe(socket);
    })().catch(() => socket.destroy());
  };
  return { seen, onConnection };
}

async function setup(serverPassword: string, targetPassword: string) {
  const vnc = vncServer(serverPassword);
  const tcp = await startTcpServer(vnc.onConnection);
  cleanups.add(() => tcp.close());
  const gw = await startConsoleEndpoint({ target: tcpTarget(tcp.port, { vncPassword: targetPassword }) });
  cleanups.add(() => gw.close());
  const ws = await mustOpen(`${gw.url}?ticket=${await gw.mint()}`, { track: clients });
  const read = byteReader((on) => ws.on('message', on));
  return { vnc, gw, ws, read };
}

describe('console endpoint: VNC password handled by the gateway', () => {
  it('authenticates upstream and offers the browser None; then pipes', async () => {
    const { vnc, gw, ws, read } = await setup('s3cret', 's3cret');
    expect((await read(12)).toString()).toBe('RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    expect([...(await read(2))]).toEqual([1, 1]); // one type offered: None
    ws.send(Buffer.from([1]));
    expect([...(await read(4))]).toEqual([0, 0, 0, 0]); // SecurityResult OK
    ws.send(Buffer.from([1])); // ClientInit, shared
    expect((await read(SERVER_INIT.length)).equals(SERVER_INIT)).toBe(true);
    expect(vnc.seen).toEqual({ authOk: 1, authFailed: 0, clientInit: [1] });

    const payload = randomBytes(10_000);
    const echoed = read(payload.length);
    ws.send(payload);
    expect((await echoed).equals(payload)).toBe(true);
    expect(gw.log.text()).not.toContain('s3cret');
  });

  it('closes the browser with 4003 when the VNC server rejects the password', async () => {
    const { vnc, ws, read, gw } = await setup('right', 'wrong');
    const closing = closed(ws);
    await read(12);
    ws.send(Buffer.from('RFB 003.008\n'));
    expect(await closing).toEqual({ code: ConsoleCloseCode.UpstreamAuthFailed, reason: 'upstream authentication failed: bad password' });
    expect(vnc.seen.authFailed).toBe(1);
    const summary = await gw.closedCount(1).then(() => gw.events.find((e) => e.type === 'closed'));
    expect(summary).toMatchObject({ closeCode: ConsoleCloseCode.UpstreamAuthFailed, detail: 'RFB_AUTH_FAILED' });
    expect(gw.log.text()).not.toContain('wrong');
  });

  it('closes with 4008 when the browser picks a security type that was not offered', async () => {
    const { ws, read } = await setup('pw', 'pw');
    const closing = closed(ws);
    await read(12);
    ws.send(Buffer.from('RFB 003.008\n'));
    await read(2);
    ws.send(Buffer.from([2]));
    expect((await closing).code).toBe(ConsoleCloseCode.ClientRfbError);
  });
});
