/**
 * A real VNC server, TigerVNC's Xtigervnc (Debian's tigervnc-standalone-server), for tests that must
 * not rely on our own simulator's reading of RFB: an X display of its own (the server picks a free
 * number and reports it through -displayfd), RFB on an ephemeral 127.0.0.1 port, security type None,
 * stopped after. Also `xev` (x11-utils) as an X client that shows which input reached the display.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './ports.js';

export const XTIGERVNC = '/usr/bin/Xtigervnc';
export const XEV = '/usr/bin/xev';

export const xtigervncInstalled = existsSync(XTIGERVNC);
export const xevInstalled = existsSync(XEV);

export interface Xtigervnc {
  /** The X display, e.g. `:3`. */
  readonly display: string;
  /** The RFB port on 127.0.0.1. */
  readonly port: number;
  stop(): Promise<void>;
}

export interface XtigervncOptions {
  /** Server parameters beyond display, port and interface, e.g. `-DisconnectClients=1`. */
  args?: string[];
}

/** How long the server may take to report its display and answer with its RFB greeting, ms. */
const START_DEADLINE_MS = 15_000;

/** Resolves with the 12-byte RFB ProtocolVersion the server sends first on a new connection. */
function readGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 12) {
        socket.destroy();
        resolve(got.subarray(0, 12).toString('latin1'));
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${got.length} bytes of the RFB greeting`)));
  });
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

function spawnXtigervnc(port: number, args: string[]): Promise<{ child: ChildProcess; display: string }> {
  // fd 3 is -displayfd's: the server writes the display number it took there once it accepts X clients.
  const child = spawn(XTIGERVNC, ['-displayfd', '3', '-rfbport', String(port), '-interface', '127.0.0.1', '-localhost', '-nolisten', 'tcp', ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    let displayText = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`Xtigervnc ${why} (port ${port}): ${log.slice(-800)}`));
    };
    const timer = setTimeout(() => fail('did not start in time'), START_DEADLINE_MS);
    child.stderr!.on('data', (c: Buffer) => (log += c.toString('utf8')));
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal})`));
    const displayFd = child.stdio[3] as NodeJS.ReadableStream;
    displayFd.on('data', (c: Buffer) => {
      displayText += c.toString('latin1');
      if (!displayText.includes('\n')) return;
      const display = `:${displayText.trim()}`;
      readGreeting(port).then(
        (greeting) => {
          if (!greeting.startsWith('RFB 003.')) return fail(`greeted with ${JSON.stringify(greeting)}`);
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({ child, display });
        },
        (err: Error) => fail(`did not greet: ${err.message}`),
      );
    });
  });
}

export async function startXtigervnc(options: XtigervncOptions = {}): Promise<Xtigervnc> {
  if (!xtigervncInstalled) {
    throw new Error(`${XTIGERVNC} not found: apt-get install tigervnc-standalone-server (.ci/run installs it)`);
  }
  // The port is free when looked at; another process could take it before the server binds, so try again.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      const { child, display } = await spawnXtigervnc(port, options.args ?? []);
      return {
        display,
        port,
        stop: async () => {
          child.kill('SIGTERM');
          await exited(child);
        },
      };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export interface XevWatcher {
  /** Everything xev printed so far. */
  output(): string;
  /** Resolves once xev's output matches `pattern`. */
  waitFor(pattern: RegExp): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `xev` with its own window over the whole screen (with no window manager the keyboard focus follows
 * the pointer, and the pointer is always inside it), printing every event the display delivers to it.
 * Resolves once the window is exposed: from then on its events are selected.
 */
export async function watchXEvents(display: string, geometry: string): Promise<XevWatcher> {
  const child = spawn(XEV, ['-display', display, '-geometry', `${geometry}+0+0`, '-event', 'keyboard', '-event', 'mouse', '-event', 'expose'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void; reject: (e: Error) => void }> = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.pattern.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    check();
  });
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`xev exited (${code}) before printing ${w.pattern}: ${out.slice(-500)}`));
  });
  const watcher: XevWatcher = {
    output: () => out,
    waitFor: (pattern) =>
      pattern.test(out)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            waiters.push({ pattern, resolve, reject });
          }),
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
  await watcher.waitFor(/^Expose event/m);
  return watcher;
}
