/**
 * Raw TCP to a VNC server: the gateway is the websockify. Used for token-file targets and for
 * providers that expose VNC host:port (Abiquo's vdrpIP/vdrpPort).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { ConsoleCloseCode } from '../../websocket-codes.js';
import { LegConnectError } from './types.js';
import type { LegEvents, LegOptions, UpstreamLeg } from './types.js';

/** How often TCP keepalive probes an idle upstream, milliseconds: finds VNC servers that vanished. */
const KEEPALIVE_DELAY_MS = 60_000;

/**
 * One read buffer for every TCP leg in the process. Node's default read allocates 64 KiB per read
 * and shrinks it to what arrived; reading into this (up to 256 KiB per read(2)) and copying out
 * exactly what arrived halves the system calls of a busy console (measured with strace in
 * BENCHMARKS.md: fewer reads, and as many fewer WebSocket frames to the browser). Sharing it is
 * safe: a read's callback runs to completion before the next read of any socket, and the bytes are
 * copied out before it returns. One read can land on a queue already at the high-water mark, so the
 * queue towards the browser may pass `console.highWaterMarkBytes` by up to this much.
 */
export const TCP_READ_BYTES = 256 * 1024;
const READ_BUFFER = Buffer.allocUnsafe(TCP_READ_BYTES);

export function connectTcpLeg(target: { host: string; port: number }, options: LegOptions, events: LegEvents): Promise<UpstreamLeg> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: target.host,
      port: target.port,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array): boolean => {
          // allocUnsafe: Buffer.from would zero-fill the copy first (a measurable share of a busy console's CPU).
          const chunk = Buffer.allocUnsafe(n);
          chunk.set(buf.subarray(0, n));
          events.data(chunk);
          return true; // flow control is the session's pause() and resume()
        },
      },
    });
    const fail = (detail: string): void => {
      socket.destroy();
      reject(new LegConnectError(ConsoleCloseCode.UpstreamUnreachable, detail));
    };
    const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? 'connect error');
    const onTimeout = (): void => fail('connect timeout');
    socket.once('error', onError);
    socket.once('timeout', onTimeout);
    socket.setTimeout(options.connectTimeoutMs);
    socket.once('connect', () => {
      socket.removeListener('error', onError);
      socket.removeListener('timeout', onTimeout);
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
      resolve(new TcpLeg(socket, options.highWaterMarkBytes, events));
    });
  });
}

class TcpLeg implements UpstreamLeg {
  readonly #socket: Socket;
  readonly #highWaterMark: number;
  #errorCode: string | null = null;

  constructor(socket: Socket, highWaterMark: number, events: LegEvents) {
    this.#socket = socket;
    this.#highWaterMark = highWaterMark;
    // Bytes arrive through `onread` (connectTcpLeg), not as 'data' events.
    socket.on('drain', events.drain);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#errorCode = err.code ?? 'socket error';
    });
    // allowHalfOpen is off: when the VNC server ends, Node ends our side and 'close' follows.
    socket.once('close', () => {
      events.closed({ code: ConsoleCloseCode.UpstreamClosed, detail: this.#errorCode ?? 'upstream closed' });
    });
  }

  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  write(chunk: Buffer): boolean {
    // The socket's own mark is 16 KiB; ours is larger. Past ours, write() has returned false
    // too, so Node will emit the 'drain' that resumes the browser.
    const belowSocketMark = this.#socket.write(chunk);
    return belowSocketMark || this.#socket.writableLength <= this.#highWaterMark;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) {
      if (socket.writableFinished) socket.destroy();
      return;
    }
    // Flush, send FIN, and stop waiting for the server's own FIN: nothing it says now has a reader.
    socket.once('finish', () => socket.destroy());
    socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
