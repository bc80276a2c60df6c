/**
 * Everything the gateway says during a scenario, kept for leak checks: HTTP response bodies (and
 * headers), WebSocket messages, close reasons and refused-upgrade bodies sent to clients, and log
 * lines. Each entry carries a context naming what produced it, so a check can allow a secret in
 * exactly the places it belongs.
 */
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';

export type AllowedSecret = 'ticket' | 'towerConsoleToken';

export interface CapturedEntry {
  where: string;
  text: string;
  /** Secret kinds that may appear in this entry. */
  allow: ReadonlySet<AllowedSecret>;
}

export class Capture {
  readonly entries: CapturedEntry[] = [];

  add(where: string, text: string, allow: AllowedSecret[] = []): void {
    this.entries.push({ where, text, allow: new Set(allow) });
  }

  /** fetch, keeping the response body and headers. */
  async fetch(where: string, url: string, init: RequestInit = {}, allow: AllowedSecret[] = []): Promise<{ status: number; body: string; json: () => any }> {
    const res = await fetch(url, init);
    const body = await res.text();
    this.add(`${where} (HTTP ${res.status})`, `${JSON.stringify([...res.headers])}\n${body}`, allow);
    return { status: res.status, body, json: () => JSON.parse(body) };
  }

  async gql(baseUrl: string, where: string, query: string, variables?: Record<string, unknown>, allow: AllowedSecret[] = []): Promise<any> {
    const res = await this.fetch(where, `${baseUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }, allow);
    return res.json();
  }

  /** A WebSocket whose every incoming message, close reason and refusal body is captured. */
  ws(where: string, url: string, protocols?: string | string[], headers: Record<string, string> = {}): CapturedSocket {
    const ws = new WebSocket(url, protocols, { headers });
    return new CapturedSocket(this, where, ws);
  }

  /** A raw upgrade request (for refusals): resolves with the HTTP status and body. */
  rawUpgrade(where: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          ...headers,
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          this.add(`${where} (HTTP ${res.statusCode})`, `${JSON.stringify(res.headers)}\n${body}`);
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 101, body: '' });
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Entries where `value` appears although `kind` is not allowed there. */
  leaks(value: string, kind: AllowedSecret | null): CapturedEntry[] {
    return this.entries.filter((e) => e.text.includes(value) && (kind === null || !e.allow.has(kind)));
  }
}

export class CapturedSocket {
  readonly opened: Promise<string>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Whole messages not yet taken by `next()`. */
  readonly #messages: Buffer[] = [];
  /** The same bytes as one stream, for `read(n)`. */
  #stream = Buffer.alloc(0);
  #wake: (() => void) | null = null;

  constructor(
    capture: Capture,
    where: string,
    readonly ws: WebSocket,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      capture.add(`${where} message`, isBinary ? data.toString('latin1') : data.toString('utf8'));
      this.#messages.push(data);
      this.#stream = Buffer.concat([this.#stream, data]);
      const wake = this.#wake;
      this.#wake = null;
      wake?.();
    });
    ws.on('error', () => {});
    ws.once('upgrade', (res) => capture.add(`${where} upgrade headers`, JSON.stringify(res.headers)));
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws.protocol));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => {
          capture.add(`${where} refused (HTTP ${res.statusCode})`, `${JSON.stringify(res.headers)}\n${body}`);
          reject(Object.assign(new Error(`HTTP ${res.statusCode} ${body}`), { status: res.statusCode, body }));
        });
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        capture.add(`${where} close`, `${code} ${reason.toString()}`);
        resolve({ code, reason: reason.toString() });
        const wake = this.#wake;
        this.#wake = null;
        wake?.();
      }),
    );
  }

  #arrival(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) throw new Error('socket closed');
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Exactly `n` bytes of the binary stream (frames may split or join RFB messages). */
  async read(n: number): Promise<Buffer> {
    while (this.#stream.length < n) await this.#arrival();
    const out = this.#stream.subarray(0, n);
    this.#stream = this.#stream.subarray(n);
    return out;
  }

  /** The next whole message, parsed as JSON (graphql-ws). */
  async json(): Promise<any> {
    while (this.#messages.length === 0) await this.#arrival();
    return JSON.parse(this.#messages.shift()!.toString('utf8'));
  }
}
