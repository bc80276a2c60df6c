/** What a test started, undone after it whether it passed or not: sockets first, then servers in reverse order. */
import { afterEach } from 'vitest';
import type WebSocket from 'ws';

export type Cleanup = () => Promise<void> | void;

export class Cleanups {
  /** WebSockets to terminate (hand it to `openWs`/`mustOpen` as `track`). */
  readonly sockets = new Set<WebSocket>();
  #fns: Cleanup[] = [];

  add(fn: Cleanup): void {
    this.#fns.push(fn);
  }

  async run(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    const fns = this.#fns.reverse();
    this.#fns = [];
    for (const fn of fns) await fn();
  }
}

/** A `Cleanups` run after each test of the calling file. */
export function useCleanups(): Cleanups {
  const cleanups = new Cleanups();
  afterEach(() => cleanups.run());
  return cleanups;
}
