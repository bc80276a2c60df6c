/** graphql-ws and DRP-simulator helpers shared by the event-stream tests: wait on events, never sleep. */
import type { Client } from 'graphql-ws';
import type { DrpSimulator } from '../../src/simulators/drp/index.js';
import { waitFor } from './wait.js';

export interface CollectedSubscription {
  /** Every `next` payload, in order. */
  received: any[];
  unsubscribe: () => void;
  /** Why the stream ended ("completed" or "failed (...)"), or null while it runs. */
  ended: () => string | null;
  /** Settles when the stream completes or fails. */
  finished: Promise<void>;
  /** Resolves once `n` results arrived; fails early if the stream ends first. */
  until: (n: number) => Promise<void>;
}

/** Subscribes and collects one operation's results. */
export function collect(c: Client, query: string, variables: Record<string, unknown> = {}): CollectedSubscription {
  const received: any[] = [];
  let ended: string | null = null;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const waiters = new Set<{ n: number; resolve: () => void; reject: (e: Error) => void }>();
  const settle = () => {
    for (const w of waiters) {
      if (received.length >= w.n) w.resolve();
      else if (ended) w.reject(new Error(`subscription ${ended} after ${received.length} results (waiting for ${w.n}): ${JSON.stringify(received.at(-1))}`));
      else continue;
      waiters.delete(w);
    }
  };
  const end = (why: string) => {
    ended = why;
    finish();
    settle();
  };
  const unsubscribe = c.subscribe(
    { query, variables },
    {
      next: (v) => {
        received.push(v);
        settle();
      },
      error: (e) => end(`failed (${JSON.stringify(e)})`),
      complete: () => end('completed'),
    },
  );
  return {
    received,
    unsubscribe,
    finished,
    ended: () => ended,
    until: (n: number) =>
      new Promise<void>((resolve, reject) => {
        waiters.add({ n, resolve, reject });
        settle();
      }),
  };
}

/**
 * Runs a trivial query on the same connection and waits for it: operations on one graphql-ws socket
 * are handled in order, so subscriptions sent before it are set up on the server once it completes.
 */
export function roundTrip(c: Client): Promise<void> {
  return new Promise<void>((resolve, reject) => c.subscribe({ query: '{ providers { name } }' }, { next: () => undefined, error: reject, complete: resolve }));
}

/** Resolves once the DRP simulator has handled the command `text` (e.g. `register machines.*.*`). */
export function commandSeen(sim: DrpSimulator, text: string): Promise<void> {
  return waitFor<{ text: string }>(sim, 'command', (c) => c.text === text).then(() => undefined);
}

/** Every command the DRP simulator receives from now on, as `verb filter`, with its outcome. */
export function recordCommands(sim: DrpSimulator): Array<{ text: string; outcome: string }> {
  const commands: Array<{ text: string; outcome: string }> = [];
  sim.on('command', (c: { text: string; outcome: string }) => commands.push({ text: c.text, outcome: c.outcome }));
  return commands;
}
