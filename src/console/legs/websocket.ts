/**
 * WebSocket to an upstream websockify (CloudTower's `/websockify/`, or any websockify). The URL
 * carries the upstream's own token, so neither it nor `ws` error messages (which can quote the
 * URL) are ever logged: failures are reduced to a code or an HTTP status.
 */
import { WebSocket } from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { ConsoleTarget } from '../../upstreams/types.js';
import { ConsoleCloseCode } from '../../websocket-codes.js';
import { LegConnectError } from './types.js';
import type { LegEvents, LegOptions, UpstreamLeg } from './types.js';

type WebSocketTarget = Extract<ConsoleTarget, { kind: 'websocket' }>;

const BINARY = { binary: true } as const;

export function connectWebSocketLeg(target: WebSocketTarget, options: LegOptions, events: LegEvents): Promise<UpstreamLeg> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(target.url, target.protocols, {
        perMessageDeflate: false,
        handshakeTimeout: options.connectTimeoutMs,
        maxPayload: options.maxFrameBytes,
        // A redirect could point anywhere; the target is ours to choose, not the upstream's.
        followRedirects: false,
        ...(target.tls?.ca !== undefined ? { ca: target.tls.ca } : {}),
        rejectUnauthorized: target.tls?.insecure !== true,
      });
    } catch {
      // `ws` throws synchronously on a bad URL, with the URL in the message.
      reject(new LegConnectError(ConsoleCloseCode.UpstreamUnreachable, 'invalid upstream url'));
      return;
    }
    let settled = false;
    const fail = (code: ConsoleCloseCode, detail: string): void => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(new LegConnectError(code, detail));
    };
    ws.once('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      req.destroy();
      // 401/403: the upstream refused the credentials in the URL (an expired CloudTower token).
      fail(status === 401 || status === 403 ? ConsoleCloseCode.UpstreamAuthFailed : ConsoleCloseCode.UpstreamUnreachable, `http ${status}`);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (typeof err.message === 'string' && err.message.startsWith('Server sent')) {
        fail(ConsoleCloseCode.UpstreamProtocolError, 'subprotocol mismatch');
      } else fail(ConsoleCloseCode.UpstreamUnreachable, err.code ?? 'websocket handshake failed');
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      resolve(new WebSocketLeg(ws, options.highWaterMarkBytes, events));
    });
  });
}

class WebSocketLeg implements UpstreamLeg {
  readonly #ws: WebSocket;
  readonly #highWaterMark: number;
  #detail: string | null = null;
  #code: ConsoleCloseCode = ConsoleCloseCode.UpstreamClosed;
  readonly #onFlushed: (err?: Error) => void;

  constructor(ws: WebSocket, highWaterMark: number, events: LegEvents) {
    this.#ws = ws;
    this.#highWaterMark = highWaterMark;
    this.#onFlushed = (err) => {
      if (!err) events.drain();
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        // websockify in binary mode never sends text; one that does is speaking base64.
        this.#code = ConsoleCloseCode.UpstreamProtocolError;
        this.#detail = 'text frame from upstream';
        ws.close(1003);
        return;
      }
      events.data(data);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      this.#detail ??= err.code ?? 'websocket error';
    });
    ws.once('close', (code: number) => {
      events.closed({ code: this.#code, detail: this.#detail ?? `upstream closed ${code}` });
    });
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  write(chunk: Buffer): boolean {
    // `ws` emits no 'drain'; the send callback of the frame that crossed the mark fires once
    // that frame (and so everything before it) reached the kernel.
    if (this.#ws.bufferedAmount + chunk.length > this.#highWaterMark) {
      this.#ws.send(chunk, BINARY, this.#onFlushed);
      return false;
    }
    this.#ws.send(chunk, BINARY);
    return true;
  }

  pause(): void {
    this.#ws.pause();
  }

  resume(): void {
    this.#ws.resume();
  }

  end(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1000);
  }

  destroy(): void {
    this.#ws.terminate();
  }
}
