/** DRP wire helpers for the simulator tests: a raw JSON-message client, Basic credentials. */
import type WebSocket from 'ws';
import { mustOpen } from '../../helpers/ws.js';

/** A raw WebSocket client that queues text messages so tests can read them in order. */
export class RawClient {
  private readonly messages: string[] = [];
  private readonly readers: Array<(text: string) => void> = [];
  readonly closed: Promise<{ code: number }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      const reader = this.readers.shift();
      if (reader) reader(text);
      else this.messages.push(text);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve({ code })));
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
    return new RawClient(await mustOpen(url, { protocols: [], ...options }));
  }

  /** The next text message, parsed as JSON. */
  async next<T = Record<string, unknown>>(): Promise<T> {
    const queued = this.messages.shift();
    const text = queued ?? (await new Promise<string>((resolve) => this.readers.push(resolve)));
    return JSON.parse(text) as T;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.ws.terminate();
  }
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
