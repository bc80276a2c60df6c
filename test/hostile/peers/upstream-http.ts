/**
 * A hostile HTTP upstream on 127.0.0.1 for the hostile suite: each request goes to a handler the test
 * swaps at will, and the responders below misbehave in bounded ways (every loop stops at a byte total
 * or when the socket closes). `sent` counts the bytes the peer managed to hand to its socket, so a
 * test can show that the gateway stopped reading long before the peer ran out.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type HostileHandler = (req: IncomingMessage, res: ServerResponse, peer: HostileHttpPeer) => void;

export interface HostileHttpPeer {
  url: string;
  /** Bytes written by the responders so far (all requests). */
  sent: number;
  /** Requests seen, by path without query. */
  requests: Map<string, number>;
  handler: HostileHandler;
  close(): Promise<void>;
}

export async function startHostileHttp(handler: HostileHandler): Promise<HostileHttpPeer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    peer.requests.set(path, (peer.requests.get(path) ?? 0) + 1);
    // Drain the request body before answering (the gateway POSTs JSON).
    req.resume();
    req.on('end', () => peer.handler(req, res, peer));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const peer: HostileHttpPeer = {
    url: `http://127.0.0.1:${port}`,
    sent: 0,
    requests: new Map(),
    handler,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return peer;
}

/** Writes `chunk` as fast as the socket drains, up to `totalBytes`, until the reader goes away. */
export function pump(res: ServerResponse, peer: HostileHttpPeer, chunk: Buffer, totalBytes: number, end = true): void {
  let written = 0;
  const write = (): void => {
    while (written < totalBytes && !res.destroyed) {
      written += chunk.length;
      peer.sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', write);
        return;
      }
    }
    if (end && !res.destroyed) res.end();
  };
  write();
}

/** A JSON body bomb: `totalBytes` of an endless JSON string, chunked, without Content-Length. */
export function bodyBomb(totalBytes: number): HostileHandler {
  return (_req, res, peer) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('["');
    pump(res, peer, Buffer.alloc(64 * 1024, 'a'), totalBytes);
  };
}

/** Declares a huge Content-Length, then sends a little: a cap can refuse it before reading anything. */
export function declaredBomb(declaredBytes: number): HostileHandler {
  return (_req, res, peer) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(declaredBytes) });
    pump(res, peer, Buffer.alloc(1024, 'a'), 64 * 1024, false);
  };
}

/** Answers headers at once, then one byte every `everyMs`, at most `maxBytes` (then stalls). */
export function dripBody(everyMs: number, maxBytes = 10_000): HostileHandler {
  return (_req, res, peer) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    let n = 0;
    const timer = setInterval(() => {
      if (res.destroyed || n >= maxBytes) {
        clearInterval(timer);
        return;
      }
      n++;
      peer.sent++;
      res.write(n === 1 ? '[' : ' ');
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  };
}

export function json(status: number, body: unknown): HostileHandler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/** Routes by path (no query); anything else is a 404. */
export function routes(table: Record<string, HostileHandler>): HostileHandler {
  return (req, res, peer) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const h = table[path];
    if (h) h(req, res, peer);
    else json(404, { error: 'not here' })(req, res, peer);
  };
}

/** An SSE stream that opens normally, then sends one line that never ends (`totalBytes` of it). */
export function endlessSseLine(totalBytes: number): HostileHandler {
  return (_req, res, peer) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: \n\ndata: ');
    pump(res, peer, Buffer.alloc(16 * 1024, 'x'), totalBytes);
  };
}

/** An SSE stream whose one event is made of endless short `data:` lines and never a blank line. */
export function endlessSseEvent(totalBytes: number): HostileHandler {
  return (_req, res, peer) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    pump(res, peer, Buffer.from('data: {"x":1}\n'.repeat(1024)), totalBytes);
  };
}

/** An SSE stream that opens and then says nothing at all. */
export function silentSse(): HostileHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
  };
}

/** Heap in use after a collection when the process exposes gc, else as it is. */
export function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/** Polls `check` every 20 ms until it returns a value, at most `tries` times. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, tries = 250): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}
