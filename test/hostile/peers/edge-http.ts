/**
 * A hostile browser-ish client for the edge tests: raw HTTP requests and WebSocket upgrades with any
 * `Host` and `Origin` (fetch refuses to set Host; a DNS-rebinding page gets the attacker's name there).
 * Loopback only.
 */
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface RawAnswer {
  status: number;
  body: string;
}

export interface RawOptions {
  port: number;
  path: string;
  /** The Host header, e.g. `attacker.example:4000`. */
  host: string;
  origin?: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
}

/** One HTTP request to 127.0.0.1:`port` carrying the given Host and Origin. */
export function rawRequest(opts: RawOptions): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        setHost: false,
        headers: {
          host: opts.host,
          ...(opts.origin ? { origin: opts.origin } : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d.slice(0, 65536 - body.length)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('raw request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A WebSocket upgrade with the given Host and Origin: 101 when accepted (the socket is closed at once), else the refusal. */
export function rawUpgrade(opts: Omit<RawOptions, 'method' | 'body'> & { protocol?: string }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: opts.port,
      path: opts.path,
      setHost: false,
      headers: {
        host: opts.host,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...(opts.protocol ? { 'sec-websocket-protocol': opts.protocol } : {}),
        ...(opts.origin ? { origin: opts.origin } : {}),
        ...opts.headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('raw upgrade timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Heap in use after a full GC when the test runner exposes one (else as is): for growth bounds. */
export function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}
