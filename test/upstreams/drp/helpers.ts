/** Test helpers for the DRP client and simulator: manual timers, event waiting, raw socket clients. */
import type { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { Clock } from '../../../src/clock.js';
import type { EventPublisher, GatewayEventInput } from '../../../src/events/types.js';

/** A clock and timers that move only when told to. */
export class ManualTimers implements Clock {
  nowMs = Date.UTC(2024, 0, 1);
  private seq = 0;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  readonly now = (): number => this.nowMs;

  setTimeout(callback: () => void, ms: number): number {
    const id = ++this.seq;
    this.pending.set(id, { at: this.nowMs + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Moves the clock forward, firing due timers in time order (including ones they schedule). */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.pending.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].at);
      next[1].callback();
    }
    this.nowMs = target;
  }
}

/** Resolves with the first `event` emission whose argument satisfies `predicate`. */
export function waitFor<T = unknown>(emitter: EventEmitter, event: string, predicate: (arg: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (arg: T): void => {
      if (!predicate(arg)) return;
      emitter.off(event, listener);
      resolve(arg);
    };
    emitter.on(event, listener);
  });
}

/** A publisher that records events and lets a test await the n-th one. */
export class RecordingPublisher implements EventPublisher {
  readonly events: GatewayEventInput[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  publish(event: GatewayEventInput): void {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (this.events.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once at least `count` events have been published. */
  waitForCount(count: number): Promise<void> {
    if (this.events.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

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
    const ws = new WebSocket(url, options);
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
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

/** Resolves with the HTTP status, headers and body of a refused WebSocket upgrade. */
export function refusedUpgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade unexpectedly accepted'));
    });
    ws.on('error', () => {});
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        ws.terminate();
      });
    });
  });
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
