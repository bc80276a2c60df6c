/**
 * A hostile DRP event socket on 127.0.0.1 (`/api/v3/ws`, any bearer accepted): on every connection it
 * runs the attack the test chose. Every attack is bounded in count; sends wait for the socket to drain.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export type DrpAttack =
  | { kind: 'giant'; bytes: number }
  | { kind: 'flood'; count: number }
  | { kind: 'malformed'; count: number }
  | { kind: 'quiet' };

export interface HostileDrpPeer {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  attack: DrpAttack;
  close(): Promise<void>;
}

export function drpEvent(key: string): string {
  return JSON.stringify({ Time: new Date(0).toISOString(), Type: 'machines', Action: 'update', Key: key, Principal: 'hostile', Object: { Uuid: key }, Original: null });
}

const GARBAGE = ['{not json', '[]', '{"Type":1}', 'null', '"just a string"', '{"Type":"machines","Action":"x"}'];

async function drained(ws: WebSocket): Promise<void> {
  while (ws.readyState === ws.OPEN && ws.bufferedAmount > 1024 * 1024) await new Promise((r) => setTimeout(r, 5));
}

async function run(ws: WebSocket, attack: DrpAttack): Promise<void> {
  switch (attack.kind) {
    case 'giant':
      ws.send(`{"Type":"machines","Action":"update","Key":"big","Object":"${'x'.repeat(attack.bytes)}"}`);
      return;
    case 'flood':
      for (let i = 0; i < attack.count && ws.readyState === ws.OPEN; i++) {
        ws.send(drpEvent(`flood-${i}`));
        if (i % 1000 === 0) await drained(ws);
      }
      return;
    case 'malformed':
      for (let i = 0; i < attack.count && ws.readyState === ws.OPEN; i++) {
        if (i % 7 === 6) ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
        else ws.send(GARBAGE[i % GARBAGE.length]!);
        if (i % 1000 === 0) await drained(ws);
      }
      ws.send(drpEvent('after-garbage'));
      return;
    case 'quiet':
      return;
  }
}

export async function startHostileDrp(attack: DrpAttack): Promise<HostileDrpPeer> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server, path: '/api/v3/ws' });
  wss.on('connection', (ws) => {
    peer.connections++;
    ws.on('error', () => undefined);
    void run(ws, peer.attack);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const peer: HostileDrpPeer = {
    url: `http://127.0.0.1:${port}`,
    connections: 0,
    attack,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return peer;
}
