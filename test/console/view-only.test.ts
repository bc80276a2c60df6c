import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, createWebSocketStream } from 'ws';
import { RfbTestClient, keyEventMessage, pointerEventMessage } from '../rfb/rfb-test-client.js';
import { nextConsoleEvent, startTowerGateway, type TowerGateway } from '../helpers/gateway.js';
import { mustOpen } from '../helpers/ws.js';
import { ViewOnlyFilter } from '../../src/console/view-only.js';
import { ConsoleFarm } from '../../src/simulators/vnc/index.js';
import { defaultAbiquoData, startAbiquoSimulator } from '../../src/simulators/abiquo/index.js';

let env: TowerGateway | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const OPEN = 'mutation($id: ID!, $viewOnly: Boolean, $mode: ConsoleMode) { openConsole(vmId: $id, viewOnly: $viewOnly, mode: $mode) { url } }';

async function openRfb(url: string): Promise<{ ws: WebSocket; rfb: RfbTestClient }> {
  const ws = await mustOpen(url);
  return { ws, rfb: await RfbTestClient.handshake(createWebSocketStream(ws)) };
}

function qemuExtendedKey(down: boolean, keysym: number, keycode: number): Buffer {
  const msg = Buffer.alloc(12);
  msg.writeUInt8(255, 0);
  msg.writeUInt8(0, 1);
  msg.writeUInt16BE(down ? 1 : 0, 2);
  msg.writeUInt32BE(keysym, 4);
  msg.writeUInt32BE(keycode, 8);
  return msg;
}

function clientCutText(text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const header = Buffer.alloc(8);
  header.writeUInt8(6, 0);
  header.writeInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** `console_view_only_input_dropped_total` by type, read from the gateway's /metrics. */
async function droppedMetric(t: TowerGateway): Promise<Record<string, number>> {
  const text = await (await fetch(`${t.gateway.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^console_view_only_input_dropped_total\{type="([a-z_]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}


async function webConsole(): Promise<{ env: TowerGateway; vmId: string; key: string }> {
  const started = await startTowerGateway();
  const vm = started.sim.listVms().find((v) => v.name === 'web-01')!;
  return { env: started, vmId: `tower:${vm.id}`, key: vm.id };
}

describe('view-only consoles', () => {
  it("drops a view-only browser's keys, pointer, clipboard and QEMU key events, while an interactive session on the same VM keeps working", async () => {
    const w = await webConsole();
    env = w.env;
    const server = env.consoles.server(w.key)!;
    const viewOnly: any = await env.gql(OPEN, { id: w.vmId, viewOnly: true });
    expect(viewOnly.errors).toBeUndefined();
    const interactive: any = await env.gql(OPEN, { id: w.vmId });
    const observer = await openRfb(viewOnly.data.openConsole.url);
    const user = await openRfb(interactive.data.openConsole.url);

    // Input split across WebSocket messages and mixed with what an observer may send.
    const burst = Buffer.concat([
      keyEventMessage(true, 0x61),
      pointerEventMessage(1, 10, 10),
      clientCutText('secret typed by an observer'),
      qemuExtendedKey(true, 0x62, 0x30),
      keyEventMessage(false, 0x61),
    ]);
    observer.rfb.send(burst.subarray(0, 5));
    observer.rfb.send(burst.subarray(5, 23));
    observer.rfb.send(burst.subarray(23));
    observer.rfb.requestUpdate(false);
    // The update answers a request sent after the input, so the VNC server has read past all of it.
    expect((await observer.rfb.readUpdate()).length).toBeGreaterThan(0);
    expect(server.inputCounts).toEqual({ key: 0, pointer: 0, cutText: 0 });

    user.rfb.send(keyEventMessage(true, 0x61), keyEventMessage(false, 0x61), pointerEventMessage(0, 5, 5));
    user.rfb.requestUpdate(false);
    expect((await user.rfb.readUpdate()).length).toBeGreaterThan(0);
    expect(server.inputCounts).toEqual({ key: 2, pointer: 1, cutText: 0 });
    expect(observer.ws.readyState).toBe(WebSocket.OPEN);
    expect(user.ws.readyState).toBe(WebSocket.OPEN);
    observer.rfb.close();
    user.rfb.close();
  });

  it('drops input on a VNC-password console too, where the gateway does the RFB handshake itself', async () => {
    const farm = new ConsoleFarm();
    const data = defaultAbiquoData();
    const web1 = data[0]!.vms[0]!; // web-1, with a VNC password
    await farm.add('1/1', { name: 'web-1', password: web1.password! });
    const abiquo = await startAbiquoSimulator({ data, consoleFor: (vm, ent) => farm.locate(`${ent}/${vm.id}`) });
    try {
      env = await startTowerGateway({ extraProviders: [{ name: 'abq', kind: 'abiquo', url: abiquo.url, username: 'admin', password: 'xabiquo' }] });
      const res: any = await env.gql(OPEN, { id: 'abq:1/1', viewOnly: true });
      expect(res.errors).toBeUndefined();
      const observer = await openRfb(res.data.openConsole.url); // offered None by the gateway
      expect(observer.rfb.serverInit.name).toBe('web-1');
      observer.rfb.send(keyEventMessage(true, 0x61), pointerEventMessage(1, 3, 3));
      observer.rfb.requestUpdate(false);
      expect((await observer.rfb.readUpdate()).length).toBeGreaterThan(0);
      expect(farm.server('1/1')!.inputCounts).toEqual({ key: 0, pointer: 0, cutText: 0 });
      observer.rfb.close();
    } finally {
      await env?.close();
      env = undefined;
      await abiquo.close();
      await farm.close();
    }
  });

  it('counts dropped input by type in console_view_only_input_dropped_total (while open and once ended) and in the audit line', async () => {
    const w = await webConsole();
    env = w.env;
    const observer = await openRfb(((await env.gql(OPEN, { id: w.vmId, viewOnly: true })) as any).data.openConsole.url);
    observer.rfb.send(
      keyEventMessage(true, 0x61),
      keyEventMessage(false, 0x61),
      pointerEventMessage(0, 1, 1),
      pointerEventMessage(1, 2, 2),
      pointerEventMessage(0, 3, 3),
      clientCutText('pasted'),
      qemuExtendedKey(true, 0x62, 0x30),
    );
    observer.rfb.requestUpdate(false);
    await observer.rfb.readUpdate(); // answers a request sent after the input: the gateway has read all of it
    const expected = { key: 2, pointer: 3, cut_text: 1, qemu_key: 1, set_desktop_size: 0, xvp: 0 };
    expect(await droppedMetric(env)).toEqual(expected);

    const ended = nextConsoleEvent(env, 'closed');
    observer.ws.close(1000);
    await ended;
    const audit = env.logs.records().find((r) => r.msg === 'console session');
    expect(audit).toMatchObject({ viewOnly: true, droppedInput: expected });
    // Counted once: the ended session's counts replace its live ones.
    expect(await droppedMetric(env)).toEqual(expected);

    const interactive = await openRfb(((await env.gql(OPEN, { id: w.vmId })) as any).data.openConsole.url);
    interactive.rfb.send(keyEventMessage(true, 0x61));
    const endedToo = nextConsoleEvent(env, 'closed');
    interactive.ws.close(1000);
    await endedToo;
    expect(env.logs.records().filter((r) => r.msg === 'console session').map((r) => r.droppedInput)).toEqual([expected, null]);
    expect(await droppedMetric(env)).toEqual(expected);
  });

  it('is GATEWAY-only: a view-only DIRECT console is BAD_USER_INPUT', async () => {
    const w = await webConsole();
    env = w.env;
    const res: any = await env.gql(OPEN, { id: w.vmId, viewOnly: true, mode: 'DIRECT' });
    expect(res.data).toEqual({ openConsole: null });
    expect(res.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'viewOnly' });
    const q: any = await env.gql('query($id: ID!) { console(vmId: $id, viewOnly: true) { url mode } consoleUrl(vmId: $id, viewOnly: true) }', { id: w.vmId });
    expect(q.errors).toBeUndefined();
    expect(q.data.console.mode).toBe('GATEWAY');
  });
});

describe('the view-only filter', () => {
  const handshake = Buffer.concat([Buffer.from('RFB 003.008\n', 'latin1'), Buffer.from([1]), Buffer.from([0])]);

  it('forces the ClientInit shared flag on, passing the handshake otherwise unchanged', () => {
    const filter = new ViewOnlyFilter();
    expect([...filter.feed(handshake)!]).toEqual([...handshake.subarray(0, 13), 1]);
  });

  it('passes SetEncodings and update requests byte for byte, byte by byte', () => {
    const filter = new ViewOnlyFilter();
    filter.feed(handshake);
    const encodings = Buffer.from([2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]);
    const request = Buffer.from([3, 0, 0, 0, 0, 0, 0, 10, 0, 10]);
    const keys = keyEventMessage(true, 0x41);
    const input = Buffer.concat([encodings, keys, request]);
    const out: Buffer[] = [];
    for (const byte of input) out.push(filter.feed(Buffer.from([byte]))!);
    expect(Buffer.concat(out).equals(Buffer.concat([encodings, request]))).toBe(true);
    expect(filter.dropped).toBe(1);
  });

  it('cannot follow RFB 3.3 or an unknown security type', () => {
    expect(new ViewOnlyFilter().feed(Buffer.from('RFB 003.003\n', 'latin1'))).toBeNull();
    expect(new ViewOnlyFilter().feed(Buffer.concat([Buffer.from('RFB 003.008\n', 'latin1'), Buffer.from([16])]))).toBeNull();
  });
});
