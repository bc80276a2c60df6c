/**
 * View-only consoles against a real VNC server, TigerVNC's Xtigervnc, rather than our simulator: the
 * shared flag the gateway forces on must keep the VM's interactive user connected on a server that
 * does disconnect others for a non-shared client (DisconnectClients=1), and the input the gateway
 * drops must not reach the X display. The consoles are Abiquo VMs (raw TCP to the VNC server, the
 * gateway acting as the websockify) whose console address is the Xtigervnc started here.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { WebSocket, createWebSocketStream } from 'ws';
import { RfbTestClient, keyEventMessage, pointerEventMessage } from '../rfb/rfb-test-client.js';
import { startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { useCleanups } from '../helpers/cleanups.js';
import { closed, mustOpen } from '../helpers/ws.js';
import { startXtigervnc, watchXEvents, xevInstalled, xtigervncInstalled, XEV, XTIGERVNC, type Xtigervnc } from '../helpers/xvnc.js';
import { ConsoleCloseCode } from '../../src/websocket-codes.js';
import { defaultAbiquoData, startAbiquoSimulator } from '../../src/simulators/abiquo/index.js';

const WIDTH = 320;
const HEIGHT = 240;
const KEY_A = 0x61;
const KEY_B = 0x62;

const skipNote = xtigervncInstalled ? '' : ` [skipped: ${XTIGERVNC} not found; apt-get install tigervnc-standalone-server]`;
if (!xtigervncInstalled) console.warn(`real-vnc-server.test.ts:${skipNote}`);
const xevNote = xevInstalled ? '' : ` [skipped: ${XEV} not found; apt-get install x11-utils]`;

const OPEN = 'mutation($id: ID!, $viewOnly: Boolean) { openConsole(vmId: $id, viewOnly: $viewOnly) { url } }';
/** The default data set's web-1 (enterprise 1, VM 1), its VNC password removed: Xtigervnc runs with security type None. */
const VM_ID = 'abq:1/1';

interface Console {
  ws: WebSocket;
  rfb: RfbTestClient;
}

describe.skipIf(!xtigervncInstalled)(`consoles on TigerVNC's Xtigervnc${skipNote}`, () => {
  const cleanups = useCleanups();
  let xvnc: Xtigervnc;
  let env: TowerGateway;

  beforeEach(async () => {
    xvnc = await startXtigervnc({
      // The server honours each client's shared flag, and a non-shared client disconnects the others.
      args: ['-SecurityTypes', 'None', '-AlwaysShared=0', '-NeverShared=0', '-DisconnectClients=1', '-geometry', `${WIDTH}x${HEIGHT}`, '-depth', '24'],
    });
    cleanups.add(() => xvnc.stop());
    const data = defaultAbiquoData();
    data[0]!.vms[0]!.password = null;
    const abiquo = await startAbiquoSimulator({
      data,
      consoleFor: (vm, enterprise) => (enterprise === 1 && vm.id === 1 ? { host: '127.0.0.1', port: xvnc.port } : null),
    });
    cleanups.add(() => abiquo.close());
    env = await startTowerGateway({ extraProviders: [{ name: 'abq', kind: 'abiquo', url: abiquo.url, username: 'admin', password: 'xabiquo' }] });
    cleanups.add(() => env.close());
  });

  /** A console through the gateway; `shared` is what its ClientInit asks for (noVNC sends 0 unless told `shared`). */
  async function openConsole(options: { viewOnly: boolean; shared: boolean }): Promise<Console> {
    const res: any = await env.gql(OPEN, { id: VM_ID, viewOnly: options.viewOnly });
    expect(res.errors).toBeUndefined();
    const ws = await mustOpen(res.data.openConsole.url, { track: cleanups.sockets });
    const rfb = await RfbTestClient.handshake(createWebSocketStream(ws), { shared: options.shared });
    return { ws, rfb };
  }

  /** A whole-screen update, asked for and read: the server has read everything sent before the request. */
  async function fullUpdate(c: Console): Promise<void> {
    c.rfb.requestUpdate(false);
    const rects = await c.rfb.readUpdate();
    expect(rects.reduce((area, r) => area + r.width * r.height, 0)).toBe(WIDTH * HEIGHT);
  }

  it("keeps the interactive user connected when a view-only console asks for exclusive access: the gateway forces ClientInit's shared flag", async () => {
    const user = await openConsole({ viewOnly: false, shared: false });
    expect(user.rfb.serverInit).toMatchObject({ width: WIDTH, height: HEIGHT });
    await fullUpdate(user);

    // ServerInit comes after the server has taken the observer's ClientInit: had it been read as
    // non-shared, the user's connection would be closed by now and the update below never answered.
    const observer = await openConsole({ viewOnly: true, shared: false });
    await fullUpdate(observer);
    await fullUpdate(user);
    expect(user.ws.readyState).toBe(WebSocket.OPEN);
    expect(observer.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('control: a second interactive console asking for exclusive access does disconnect the first on this server', async () => {
    const first = await openConsole({ viewOnly: false, shared: false });
    await fullUpdate(first);
    const firstClosed = closed(first.ws);
    const second = await openConsole({ viewOnly: false, shared: false });
    expect(await firstClosed).toMatchObject({ code: ConsoleCloseCode.UpstreamClosed });
    await fullUpdate(second);
  });

  it.skipIf(!xevInstalled)(`drops a view-only console's keys and pointer before they reach the X display, while the user's arrive${xevNote}`, async () => {
    const user = await openConsole({ viewOnly: false, shared: false });
    const observer = await openConsole({ viewOnly: true, shared: false });
    const xev = await watchXEvents(xvnc.display, `${WIDTH}x${HEIGHT}`);
    cleanups.add(() => xev.stop());

    observer.rfb.send(keyEventMessage(true, KEY_A), keyEventMessage(false, KEY_A), pointerEventMessage(1, 50, 50), pointerEventMessage(0, 50, 50));
    await fullUpdate(observer); // the server has read the observer's input (if any reached it)

    // The user's input after it, through the same server and the same X event queue: once xev shows
    // it, it would have shown the observer's before it.
    user.rfb.send(pointerEventMessage(0, 100, 100), keyEventMessage(true, KEY_B), keyEventMessage(false, KEY_B));
    await xev.waitFor(/keysym 0x62, b\)[\s\S]*KeyRelease event[\s\S]*keysym 0x62, b\)/);
    const seen = xev.output();
    expect(seen).toMatch(/MotionNotify event[^\n]*\n[^\n]*root:\(100,100\)/);
    expect(seen).not.toContain('keysym 0x61');
    expect(seen).not.toContain('ButtonPress event');
    expect(seen).not.toContain('(50,50)');
    expect(user.ws.readyState).toBe(WebSocket.OPEN);
  });
});
