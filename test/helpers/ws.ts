/** The one WebSocket opener for tests, and what goes with it: a refusal read back, a close awaited. */
import WebSocket, { type ClientOptions } from 'ws';

export type Opened = { ok: true; ws: WebSocket; protocol: string };
export type Refused = { ok: false; status: number; headers: Record<string, string | string[] | undefined>; body: string };

export interface OpenOptions extends ClientOptions {
  /** Subprotocols to offer. @default ['binary'] */
  protocols?: string[];
  /** Every socket created is added here, so an `afterEach` can terminate what a failed test left. */
  track?: Set<WebSocket>;
}

/** Opens a WebSocket; resolves with the socket once open, or with the HTTP refusal (status, headers, body). */
export function openWs(url: string, options: OpenOptions = {}): Promise<Opened | Refused> {
  const { protocols = ['binary'], track, ...clientOptions } = options;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...clientOptions });
    track?.add(ws);
    ws.on('error', () => {});
    ws.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        req.destroy();
        resolve({ ok: false, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    ws.once('open', () => resolve({ ok: true, ws, protocol: ws.protocol }));
    ws.once('error', reject);
  });
}

/** Opens and insists it worked. */
export async function mustOpen(url: string, options: OpenOptions = {}): Promise<WebSocket> {
  const r = await openWs(url, options);
  if (!r.ok) throw new Error(`refused: ${r.status} ${r.body}`);
  return r.ws;
}

/** Opens and insists it was refused. */
export async function mustRefuse(url: string, options: OpenOptions = {}): Promise<Refused> {
  const r = await openWs(url, options);
  if (r.ok) {
    r.ws.terminate();
    throw new Error('upgrade unexpectedly accepted');
  }
  return r;
}

/** Resolves with the close code and reason the client saw. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('already closed'));
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
}
