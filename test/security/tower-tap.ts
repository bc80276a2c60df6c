/**
 * A recording pass-through in front of the CloudTower simulator's API: the gateway talks to the
 * tap, the tap to the simulator. It keeps every login token and console token the simulator
 * handed out, so the security suite can look for them where they must not be, without reaching
 * into the gateway's client.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface TowerTap {
  /** Point the gateway's provider here. */
  url: string;
  /** Login tokens in `/v2/api/login` answers. */
  sessionTokens: Set<string>;
  /** `raw_token` and `token` of every `vnc` answer at `/api`. */
  consoleTokens: Set<string>;
  close(): Promise<void>;
}

export async function startTowerTap(upstreamUrl: string): Promise<TowerTap> {
  const sessionTokens = new Set<string>();
  const consoleTokens = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || name === 'host' || name === 'connection' || name === 'content-length') continue;
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const answer = await fetch(`${upstreamUrl}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      });
      const text = await answer.text();
      record(new URL(req.url ?? '/', 'http://tap').pathname, text);
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    } catch {
      res.writeHead(502).end();
    }
  });
  function record(path: string, text: string): void {
    let body: { data?: { token?: unknown; vnc?: { raw_token?: unknown; token?: unknown } | null } | null };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return;
    }
    if (path === '/v2/api/login' && typeof body?.data?.token === 'string') sessionTokens.add(body.data.token);
    const vnc = body?.data?.vnc;
    if (path === '/api' && vnc) {
      if (typeof vnc.raw_token === 'string') consoleTokens.add(vnc.raw_token);
      if (typeof vnc.token === 'string') consoleTokens.add(vnc.token);
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sessionTokens,
    consoleTokens,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
