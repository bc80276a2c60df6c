/**
 * Console proxy benchmark: the gateway's websockify-compatible endpoint side by side with a bare
 * WebSocket echo (the limit: no proxy hop) and Debian's `websockify` (when installed).
 *
 *   npx tsx bench/console.ts [--quick] [--only=gateway,pipe,...] [--phases=throughput,...] [--profile=DIR] [--threads]
 *                            [--gateway-flags="--flag ..."] [--idle-ms=N]
 *
 * --only runs a subset (keys: echo, pipe, gateway, gateway-recording, gateway-node-defaults,
 * websockify; the last gateway row only on a Node that needs the image's flags); --phases a subset
 * of throughput, latency, memory (a profile of one phase alone is easier to read). --profile writes a
 * V8 CPU profile of each Node server child into DIR (`--cpu-prof`; open it in Chrome DevTools or
 * summarise it with bench/cpu-profile-summary.ts): how the hot-path work in BENCHMARKS.md was found.
 * --gateway-flags replaces the Node flags of the gateway rows (the image's, src/runtime-flags.ts);
 * a child's lines that are not its JSON replies (`--trace-gc`) go to stderr. --idle-ms pauses that
 * long before every measured throughput run: a gateway that has been idle, then gets a burst.
 *
 * Everything runs on loopback in one process tree: this process is the client; the TCP echo
 * target, the WebSocket echo, the gateway and websockify are child processes, so each server's
 * memory can be read on its own. Measured per server:
 *   - throughput: 256 MiB through the server in 64 KiB binary frames, every byte verified; the
 *     median of three runs after an unmeasured warm-up run, with the server's CPU time (user + system, its whole process tree, from
 *     /proc) per GiB proxied over the same runs;
 *   - latency: p50/p99 of 2,000 sequential 64-byte round trips through each server, the servers
 *     taking turns, in 5 rounds of which the median is reported (after a garbage collection in
 *     this client, so its own pauses from the throughput phase do not land in a server's p99);
 *   - memory per idle connection: RSS growth (after GC) over 1,000 and 10,000 open consoles,
 *     each proven live by one round trip. Limited by the fd limit: the gateway holds two sockets
 *     per console; the count actually reached is reported.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { once } from 'node:events';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket, WebSocketServer } from 'ws';
import { NODE_FLAGS, missingNodeFlags } from '../src/runtime-flags.js';

const CHILD_FLAG = '--console-bench-child';
const MiB = 1024 * 1024;

export interface ConsoleBenchOptions {
  /** Bytes pushed through each server for throughput. @default 256 MiB */
  throughputBytes?: number;
  /** Binary frame size for throughput, bytes. @default 64 KiB */
  frameBytes?: number;
  /** Throughput runs per server; the median is reported. @default 3 */
  throughputRuns?: number;
  /** Sequential round trips per server in one latency round. @default 2_000 */
  latencyRoundTrips?: number;
  /** Latency rounds; the median round's p50 and p99 are reported. @default 5 */
  latencyRounds?: number;
  /** Idle connection counts for the memory figures. @default [1_000, 10_000] */
  connectionCounts?: number[];
  /** Give up on one measurement after this long, milliseconds. @default 120_000 */
  phaseTimeoutMs?: number;
  /** Where progress and the table go. @default console.log */
  print?: (line: string) => void;
  /** Server keys to run (echo, pipe, gateway, gateway-recording, websockify). @default all */
  only?: string[];
  /** Phases to run (throughput, latency, memory). @default all */
  phases?: string[];
  /** Print each server's CPU seconds by thread after the throughput runs (--threads). @default false */
  threads?: boolean;
  /** Write a V8 CPU profile of each Node server child into this directory. @default none */
  profileDir?: string;
  /** Node flags for the gateway rows instead of the image's (NODE_FLAGS). @default NODE_FLAGS on Node 22+ */
  gatewayFlags?: string[];
  /** Pause before every measured throughput run, milliseconds (the server idle, then a burst). @default 0 */
  idleMs?: number;
}

export interface MemoryFigure {
  wanted: number;
  reached: number;
  /** RSS growth per connection, bytes; null when nothing was reached. */
  bytesPerConnection: number | null;
  note?: string;
}

export interface ServerResult {
  name: string;
  status: 'ok' | 'not installed' | 'failed';
  note?: string;
  throughputMiBps?: number;
  throughputVerified?: boolean;
  /** The server's CPU seconds (user + system, whole process tree) per GiB proxied. */
  cpuSecondsPerGiB?: number;
  latencyP50Us?: number;
  latencyP99Us?: number;
  memory?: MemoryFigure[];
}

interface Child {
  proc: ChildProcess;
  port: number;
  /** Ask the child to collect garbage, then read its RSS (whole process tree for websockify). */
  memory(): Promise<number>;
  /** The child's garbage collections so far, by kind (Node children only). */
  collections?(): Promise<{ minor: number; major: number; incremental: number; ms: number }>;
  stop(): Promise<void>;
}

// --- child processes --------------------------------------------------------------------------

async function runChild(kind: string, args: string[]): Promise<void> {
  let port = 0;
  if (kind === 'tcp-echo') {
    const server = createNetServer((s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    server.maxConnections = 100_000;
    server.listen(0, '127.0.0.1', 2048);
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  } else if (kind === 'ws-echo') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 2048, perMessageDeflate: false, maxPayload: MiB, clientTracking: false });
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data: Buffer) => ws.send(data, { binary: true }));
    });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  } else if (kind === 'bare-pipe') {
    // Reference: the least a Node ws->tcp proxy can do (no tickets, no backpressure, no limits), to
    // tell what Node and this machine cost from what the gateway's own data path costs.
    const target = Number(args[0]);
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 2048, perMessageDeflate: false, maxPayload: MiB, clientTracking: false });
    wss.on('connection', (ws) => {
      const tcp = connect({ host: '127.0.0.1', port: target });
      tcp.setNoDelay(true);
      ws.on('message', (data: Buffer) => tcp.write(data));
      tcp.on('data', (data) => ws.send(data, { binary: true }));
      ws.on('close', () => tcp.destroy());
      tcp.on('close', () => ws.close());
      ws.on('error', () => {});
      tcp.on('error', () => {});
    });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  } else if (kind === 'gateway') {
    // The whole gateway as `console-gateway --config` builds it (GraphQL, metrics, the request-id
    // context, audit lines at info level), not the console endpoint alone: what a user runs.
    // args: the token file, then (for the recording row) a recording directory.
    const { startGateway } = await import('../src/app.js');
    const { validateConfig } = await import('../src/config.js');
    const { createLogger } = await import('../src/logger.js');
    const { pino } = await import('pino');
    const config = validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      // A provider is required; this one is never asked (consoles come from the token file).
      providers: [{ name: 'unused', kind: 'cloudtower', url: 'http://127.0.0.1:9', token: 'unused' }],
      console: { tokenFile: args[0] },
      // The memory phase holds 10,000 consoles; the default cap is 500.
      limits: { maxConsoles: 100_000 },
      ...(args[1] ? { recording: { dir: args[1] } } : {}),
    });
    const gateway = await startGateway(config, { logger: createLogger('info', pino.destination('/dev/null')) });
    port = Number(new URL(gateway.url).port);
  } else {
    throw new Error(`unknown child kind ${kind}`);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const rl = createInterface({ input: process.stdin });
  // Garbage collections by kind, for --threads: how a server's collector spends the CPU it shows.
  const collections = { minor: 0, major: 0, incremental: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = ((entry as { detail?: { kind?: number } }).detail)?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) collections.minor++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) collections.major++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL) collections.incremental++;
      collections.ms += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  rl.on('line', (line) => {
    if (line === 'gc') process.stdout.write(`${JSON.stringify(collections)}\n`);
    if (line === 'mem') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
    }
  });
  rl.on('close', () => process.exit(0));
}

function childCommand(profileDir: string | null): { cmd: string; args: string[] } {
  const self = fileURLToPath(import.meta.url);
  // Under tsx the loader flags are in execArgv; keep them so the child can run TypeScript.
  const loader = process.execArgv.length > 0 ? process.execArgv : ['--import', 'tsx'];
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return { cmd: process.execPath, args: [...loader, '--expose-gc', ...profile, self] };
}

async function spawnNodeChild(kind: string, args: string[] = [], profileDir: string | null = null, nodeFlags: readonly string[] = []): Promise<Child> {
  const { cmd, args: base } = childCommand(profileDir);
  // Try to lift the fd limit to the hard limit (sh's ulimit; Node has no setrlimit).
  const proc = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', cmd, ...nodeFlags, ...base, CHILD_FLAG, kind, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! });
  const waiters: Array<(line: string) => void> = [];
  // Replies are JSON lines; anything else (a V8 trace flag's output) is passed on for the reader.
  lines.on('line', (line) => (line.startsWith('{') ? waiters.shift()?.(line) : process.stderr.write(`${line}\n`)));
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      waiters.push(resolve);
      proc.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
    });
  const first = JSON.parse(await nextLine()) as { port: number };
  return {
    proc,
    port: first.port,
    memory: async () => {
      const reply = nextLine();
      proc.stdin!.write('mem\n');
      return (JSON.parse(await reply) as { rss: number }).rss;
    },
    collections: async () => {
      const reply = nextLine();
      proc.stdin!.write('gc\n');
      return JSON.parse(await reply) as { minor: number; major: number; incremental: number; ms: number };
    },
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.stdin!.end();
      // A profiled child writes its profile as it exits on its own (stdin closed); a signal would lose it.
      if (profileDir) await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill();
      await exited;
    },
  };
}

function which(cmd: string): string | null {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function spawnWebsockify(bin: string, tokenFile: string): Promise<Child> {
  const port = await freePort();
  const proc = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', bin, '--token-plugin', 'TokenFile', '--token-source', tokenFile, `127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  // websockify prints no machine-readable ready line: try a TCP connect, with backoff, for 10 s.
  // (A WebSocket probe without a token is answered by dropping the connection, which looks like "not up".)
  for (let delay = 20, waited = 0; ; waited += delay, delay = Math.min(delay * 2, 500)) {
    if (proc.exitCode !== null) throw new Error(`websockify exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ host: '127.0.0.1', port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) break;
    if (waited > 10_000) throw new Error('websockify did not start listening');
    await new Promise((r) => setTimeout(r, delay));
  }
  return {
    proc,
    port,
    memory: async () => treeRss(proc.pid ?? 0),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill();
      await once(proc, 'exit');
    },
  };
}

/** A process and all its descendants (websockify forks per connection). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** RSS of a process tree, bytes. */
function treeRss(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      total += Number(m?.[1] ?? 0) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** CPU seconds per thread name (MainThread, V8Worker, libuv-worker, ...) of a process tree, for --threads. */
function threadCpu(root: number): string {
  const byName = new Map<string, number>();
  for (const pid of processTree(root)) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        byName.set(name, (byName.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_SECOND);
      }
    } catch {
      // exited meanwhile
    }
  }
  return [...byName].filter(([, s]) => s >= 0.01).map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ');
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU seconds (user + system) a process tree has used so far, from /proc. Children that already
 * exited and were reaped count too (cutime/cstime), so websockify's per-connection forks are included.
 */
function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14-17 of stat (utime stime cutime cstime) are 11-14 after the comm field.
      ticks += Number(f[11]) + Number(f[12]) + (pid === root ? Number(f[13]) + Number(f[14]) : 0);
    } catch {
      // exited meanwhile
    }
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

// --- measurements -----------------------------------------------------------------------------

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false, maxPayload: 64 * MiB });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** Byte i of the stream is i mod 251: any loss, duplication or reordering shows. */
function patternBuffer(length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}

async function measureThroughput(url: string, total: number, frame: number): Promise<{ mibps: number; verified: boolean }> {
  const pattern = patternBuffer(frame + 251);
  const ws = await open(url);
  const windowBytes = 8 * MiB;
  let sent = 0;
  let received = 0;
  let verified = true;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (sent < total && sent - received < windowBytes) {
        const n = Math.min(frame, total - sent);
        const off = sent % 251;
        ws.send(pattern.subarray(off, off + n), { binary: true });
        sent += n;
      }
    };
    ws.on('message', (data: Buffer) => {
      // Frames come back re-cut by TCP on proxied paths; compare piece by piece.
      for (let pos = 0; pos < data.length && verified; ) {
        const n = Math.min(frame, data.length - pos);
        const off = (received + pos) % 251;
        if (!data.subarray(pos, pos + n).equals(pattern.subarray(off, off + n))) verified = false;
        pos += n;
      }
      received += data.length;
      if (!verified) reject(new Error(`corrupted stream at byte ~${received}`));
      else if (received >= total) resolve();
      else pump();
    });
    ws.once('close', (code) => reject(new Error(`closed with ${code} after ${received} bytes`)));
    pump();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  ws.terminate();
  return { mibps: total / MiB / seconds, verified: verified && received === total };
}

/** This client's own collector, so its pauses land between phases instead of inside a server's p99. */
function collectClientGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * p50/p99 of sequential 64-byte round trips through each of `urls`, taking turns: round trip i
 * goes through every server before round trip i + 1 starts.
 */
async function measureLatency(urls: string[], count: number): Promise<Array<{ p50: number; p99: number }>> {
  collectClientGarbage();
  const msg = Buffer.alloc(64, 7);
  const pingers = await Promise.all(
    urls.map(async (url) => {
      const ws = await open(url);
      const samples: number[] = [];
      let pending: { resolve: () => void; reject: (err: Error) => void } | null = null;
      let got = 0;
      ws.on('message', (data: Buffer) => {
        got += data.length;
        if (got >= 64 && pending) {
          got -= 64;
          const p = pending;
          pending = null;
          p.resolve();
        }
      });
      ws.on('close', (code) => pending?.reject(new Error(`closed with ${code}`)));
      const roundTrip = (): Promise<number> => {
        const t0 = process.hrtime.bigint();
        return new Promise<void>((resolve, reject) => {
          pending = { resolve, reject };
          ws.send(msg, { binary: true });
        }).then(() => Number(process.hrtime.bigint() - t0) / 1e3);
      };
      return { ws, samples, roundTrip };
    }),
  );
  const warmup = Math.min(200, count);
  for (let i = 0; i < count + warmup; i++) {
    for (const p of pingers) {
      const us = await p.roundTrip();
      if (i >= warmup) p.samples.push(us);
    }
  }
  return pingers.map((p) => {
    p.ws.removeAllListeners('close');
    p.ws.terminate();
    p.samples.sort((a, b) => a - b);
    const at = (q: number): number => p.samples[Math.min(p.samples.length - 1, Math.floor(q * p.samples.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99) };
  });
}

/** Open `n` consoles (each proven live by a 1-byte round trip), then read the server's RSS growth. */
async function measureIdleMemory(url: string, server: Child, n: number): Promise<MemoryFigure> {
  const before = await server.memory();
  const sockets: WebSocket[] = [];
  let failures = 0;
  let firstError: string | undefined;
  const one = async (): Promise<void> => {
    const ws = await open(url);
    sockets.push(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('close', (code) => reject(new Error(`closed ${code}`)));
      ws.send(Buffer.from([1]));
    });
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n && failures < 20) {
      next++;
      try {
        await one();
      } catch (err) {
        failures++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const live = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  const after = await server.memory();
  await Promise.all(
    sockets.map((s) => {
      if (s.readyState === WebSocket.CLOSED) return Promise.resolve();
      const closed = once(s, 'close');
      s.terminate();
      return closed;
    }),
  );
  return {
    wanted: n,
    reached: live,
    bytesPerConnection: live > 0 ? (after - before) / live : null,
    ...(firstError !== undefined ? { note: `stopped: ${firstError}` } : {}),
  };
}

// --- driver -----------------------------------------------------------------------------------

/**
 * Whether ws masks and unmasks frames with bufferutil's native code or its JavaScript fallback: ws
 * requires bufferutil when it loads (unless WS_NO_BUFFER_UTIL is set), so the module cache tells.
 * The children resolve the same node_modules, so this holds for the servers too.
 */
function bufferutilStatus(): string {
  const cache = createRequire(import.meta.url).cache;
  const native = Object.keys(cache).find((k) => /[\\/]bufferutil[\\/].*\.node$/.test(k));
  if (native) return `bufferutil: loaded (native masking in ws: ${native.split(/[\\/]node_modules[\\/]/).pop()})`;
  if (Object.keys(cache).some((k) => /[\\/]bufferutil[\\/]/.test(k))) return 'bufferutil: loaded (its JavaScript fallback, no native build)';
  return `bufferutil: not loaded (ws uses its JavaScript masking${process.env.WS_NO_BUFFER_UTIL ? ': WS_NO_BUFFER_UTIL is set' : ''})`;
}

export async function runConsoleBench(options: ConsoleBenchOptions = {}): Promise<ServerResult[]> {
  const total = options.throughputBytes ?? 256 * MiB;
  const frame = options.frameBytes ?? 64 * 1024;
  const runs = options.throughputRuns ?? 3;
  const roundTrips = options.latencyRoundTrips ?? 2_000;
  const latencyRounds = options.latencyRounds ?? 5;
  const profileDir = options.profileDir ?? null;
  const phases = new Set(options.phases ?? ['throughput', 'latency', 'memory']);
  const counts = options.connectionCounts ?? [1_000, 10_000];
  const phaseMs = options.phaseTimeoutMs ?? 120_000;
  const print = options.print ?? ((line: string) => console.log(line));
  print(bufferutilStatus());
  // The gateway runs as the image runs it: with its Node flags where this Node knows them (22 and later).
  const gatewayFlags = options.gatewayFlags ?? (Number(process.versions.node.split('.')[0]) >= 22 ? NODE_FLAGS : []);
  print(`node ${process.version}; the gateway rows run with ${gatewayFlags.length > 0 ? gatewayFlags.join(' ') : 'no extra Node flags (this Node has none of the image\'s)'}`);

  const dir = mkdtempSync(join(tmpdir(), 'console-bench-'));
  const tokenFile = join(dir, 'tokens');
  const children: Child[] = [];
  const results: ServerResult[] = [];
  try {
    const echo = await spawnNodeChild('tcp-echo');
    children.push(echo);
    writeFileSync(tokenFile, `# console bench\nbench: 127.0.0.1:${echo.port}\n`);

    const recordingDir = join(dir, 'recordings');
    const all: Array<{ key: string; name: string; start: () => Promise<Child | null>; url: (port: number) => string; skip?: boolean }> = [
      { key: 'echo', name: 'ws echo, no proxy (limit)', start: () => spawnNodeChild('ws-echo', [], profileDir), url: (p) => `ws://127.0.0.1:${p}/` },
      { key: 'pipe', name: 'bare Node ws->tcp pipe (reference)', start: () => spawnNodeChild('bare-pipe', [String(echo.port)], profileDir), url: (p) => `ws://127.0.0.1:${p}/` },
      { key: 'gateway', name: 'gateway console proxy', start: () => spawnNodeChild('gateway', [tokenFile], profileDir, gatewayFlags), url: (p) => `ws://127.0.0.1:${p}/websockify?token=bench` },
      {
        key: 'gateway-recording',
        name: 'gateway, recording on',
        start: () => spawnNodeChild('gateway', [tokenFile, recordingDir], profileDir, gatewayFlags),
        url: (p) => `ws://127.0.0.1:${p}/websockify?token=bench`,
      },
      {
        // What the image's flags buy (src/runtime-flags.ts): the same gateway on Node's own GC settings.
        key: 'gateway-node-defaults',
        name: 'gateway, without the image flags',
        start: () => spawnNodeChild('gateway', [tokenFile], profileDir),
        // Only where Node's defaults differ from the image's (Node 24 and later).
        skip: missingNodeFlags([], process.versions.node).length === 0,
        url: (p) => `ws://127.0.0.1:${p}/websockify?token=bench`,
      },
      {
        key: 'websockify',
        name: 'websockify (Debian)',
        start: async () => {
          const bin = which('websockify');
          return bin ? spawnWebsockify(bin, tokenFile) : null;
        },
        url: (p) => `ws://127.0.0.1:${p}/?token=bench`,
      },
    ];
    const servers = all.filter((s) => !s.skip && (!options.only || options.only.includes(s.key)));

    // Every server runs for the whole bench, so the phases can interleave them: throughput runs
    // take turns (run 1 of each, then run 2 of each, ...) and latency round trips alternate between
    // servers, so a noisy moment on this shared machine lands on all of them, not on one row.
    const live: Array<{ name: string; child: Child; url: string; result: ServerResult; rates: number[]; cpuSeconds: number }> = [];
    for (const s of servers) {
      let child: Child | null;
      try {
        child = await s.start();
      } catch (err) {
        results.push({ name: s.name, status: 'failed', note: err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (!child) {
        print(`-- ${s.name}: not installed`);
        results.push({ name: s.name, status: 'not installed' });
        continue;
      }
      children.push(child);
      const result: ServerResult = { name: s.name, status: 'ok', memory: [] };
      results.push(result);
      live.push({ name: s.name, child, url: s.url(child.port), result, rates: [], cpuSeconds: 0 });
    }
    const failed = (l: (typeof live)[number], err: unknown): void => {
      l.result.status = 'failed';
      l.result.note = err instanceof Error ? err.message : String(err);
      print(`-- ${l.name}: failed: ${l.result.note}`);
    };
    const ok = (): typeof live => live.filter((l) => l.result.status === 'ok');

    // One unmeasured run each first (a quarter of the bytes): JIT, TCP windows and allocators settle.
    for (const l of phases.has('throughput') ? ok() : []) {
      try {
        await withTimeout(measureThroughput(l.url, Math.max(frame, Math.floor(total / 4)), frame), phaseMs, 'throughput warm-up');
      } catch (err) {
        failed(l, err);
      }
    }
    for (let run = 0; phases.has('throughput') && run < runs; run++) {
      for (const l of ok()) {
        if (options.idleMs) await new Promise((r) => setTimeout(r, options.idleMs));
        try {
          const cpuBefore = treeCpuSeconds(l.child.proc.pid ?? 0);
          const t = await withTimeout(measureThroughput(l.url, total, frame), phaseMs, 'throughput');
          l.cpuSeconds += treeCpuSeconds(l.child.proc.pid ?? 0) - cpuBefore;
          l.rates.push(t.mibps);
          l.result.throughputVerified = (l.result.throughputVerified ?? true) && t.verified;
          print(`-- ${l.name}: throughput run ${run + 1}: ${t.mibps.toFixed(0)} MiB/s (${(total / MiB).toFixed(0)} MiB, verified: ${t.verified})`);
        } catch (err) {
          failed(l, err);
        }
      }
    }
    // The recording row counts only if its recordings kept up: a failed one stops recording and the
    // console runs on unrecorded, which would pass for a recording that costs nothing.
    const recordingRow = ok().find((l) => l.name === 'gateway, recording on');
    if (recordingRow && phases.has('throughput')) {
      const read = (): Array<{ state: string; failure: string | null; bytes: number }> =>
        readdirSync(recordingDir)
          .filter((n) => n.endsWith('.json'))
          .map((n) => JSON.parse(readFileSync(join(recordingDir, n), 'utf8')) as { state: string; failure: string | null; bytes: number });
      // The last console's file is still being flushed: wait (at most 10 s) for every status to be final.
      let statuses = read();
      for (let i = 0; i < 200 && statuses.some((st) => st.state === 'recording'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        statuses = read();
      }
      const failedRecordings = statuses.filter((st) => st.state === 'failed');
      const recordedMiB = statuses.reduce((n, st) => n + st.bytes, 0) / MiB;
      print(`-- gateway, recording on: ${statuses.length} recordings, ${recordedMiB.toFixed(0)} MiB on disk, ${failedRecordings.length} failed${failedRecordings.length > 0 ? ` (${[...new Set(failedRecordings.map((st) => st.failure))].join(', ')})` : ''}`);
      if (failedRecordings.length > 0) failed(recordingRow, new Error(`${failedRecordings.length} recordings failed: the row would measure a console that stopped recording`));
    }
    for (const l of options.threads ? ok() : []) {
      const gcs = await l.child.collections?.();
      const gcText = gcs ? `; collections: ${gcs.minor} minor, ${gcs.major} major, ${gcs.incremental} incremental, ${gcs.ms.toFixed(0)} ms` : '';
      print(`-- ${l.name}: CPU seconds by thread so far: ${threadCpu(l.child.proc.pid ?? 0)}${gcText}`);
    }
    for (const l of ok()) {
      if (l.rates.length === 0) continue;
      const sorted = [...l.rates].sort((a, b) => a - b);
      l.result.throughputMiBps = sorted[Math.floor(sorted.length / 2)];
      l.result.cpuSecondsPerGiB = l.cpuSeconds / ((l.rates.length * total) / (1024 * MiB));
    }

    if (phases.has('latency') && ok().length > 0) {
      const targets = ok();
      try {
        // Rounds, each on fresh connections; the median round is reported, so one burst of noise on
        // this shared machine moves one round, not the figure.
        const rounds: Array<Array<{ p50: number; p99: number }>> = [];
        for (let round = 0; round < latencyRounds; round++) {
          rounds.push(await withTimeout(measureLatency(targets.map((l) => l.url), roundTrips), phaseMs, 'latency'));
        }
        const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        targets.forEach((l, i) => {
          l.result.latencyP50Us = median(rounds.map((r) => r[i]!.p50));
          l.result.latencyP99Us = median(rounds.map((r) => r[i]!.p99));
          print(`-- ${l.name}: latency p50 ${l.result.latencyP50Us.toFixed(0)} us, p99 ${l.result.latencyP99Us.toFixed(0)} us (median of ${latencyRounds} rounds; p99 per round: ${rounds.map((r) => r[i]!.p99.toFixed(0)).join(', ')})`);
        });
      } catch (err) {
        for (const l of targets) failed(l, err);
      }
    }

    for (const l of phases.has('memory') ? ok() : []) {
      for (const n of counts) {
        try {
          const m = await withTimeout(measureIdleMemory(l.url, l.child, n), phaseMs, `memory at ${n}`);
          l.result.memory!.push(m);
          print(`-- ${l.name}: idle x${n}: reached ${m.reached}, ${m.bytesPerConnection === null ? '-' : `${(m.bytesPerConnection / 1024).toFixed(1)} KiB/conn`}${m.note ? ` (${m.note})` : ''}`);
        } catch (err) {
          failed(l, err);
          break;
        }
      }
    }
  } finally {
    for (const c of children) await c.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  print('');
  for (const line of formatTable(results, counts)) print(line);
  const targets = formatTargets(results, counts);
  if (targets.length > 0) {
    print('');
    for (const line of targets) print(line);
  }
  return results;
}

/** Issue 13's targets for the gateway, as ratios to the rows of this run (those that ran). */
function formatTargets(results: ServerResult[], counts: number[]): string[] {
  const row = (name: string): ServerResult | undefined => results.find((r) => r.name === name && r.status === 'ok');
  const gateway = row('gateway console proxy');
  if (!gateway) return [];
  const lines: string[] = ['target (issue 13)                                   measured'];
  const check = (what: string, measured: string, met: boolean): void => {
    lines.push(`${what.padEnd(52)}${measured.padEnd(34)}${met ? 'met' : 'MISSED'}`);
  };
  const websockify = row('websockify (Debian)');
  const pipe = row('bare Node ws->tcp pipe (reference)');
  const recording = row('gateway, recording on');
  const mibps = gateway.throughputMiBps;
  if (mibps !== undefined && websockify?.throughputMiBps !== undefined) {
    const x = mibps / websockify.throughputMiBps;
    check('throughput >= 1.6x websockify', `${x.toFixed(2)}x (${mibps.toFixed(0)} / ${websockify.throughputMiBps.toFixed(0)} MiB/s)`, x >= 1.6);
  }
  if (mibps !== undefined && pipe?.throughputMiBps !== undefined) {
    const x = mibps / pipe.throughputMiBps;
    check('throughput >= 0.9x the bare Node pipe', `${x.toFixed(2)}x (${mibps.toFixed(0)} / ${pipe.throughputMiBps.toFixed(0)} MiB/s)`, x >= 0.9);
  }
  if (gateway.latencyP99Us !== undefined && websockify?.latencyP99Us !== undefined) {
    check('p99 round trip <= websockify', `${gateway.latencyP99Us.toFixed(0)} vs ${websockify.latencyP99Us.toFixed(0)} us`, gateway.latencyP99Us <= websockify.latencyP99Us);
  }
  if (mibps !== undefined && recording?.throughputMiBps !== undefined) {
    const loss = 1 - recording.throughputMiBps / mibps;
    check('recording on: <= 15 % less throughput', `${(loss * 100).toFixed(1)} % (${recording.throughputMiBps.toFixed(0)} MiB/s)`, loss <= 0.15);
  }
  for (const n of counts) {
    const off = gateway.memory?.find((m) => m.wanted === n)?.bytesPerConnection;
    const on = recording?.memory?.find((m) => m.wanted === n)?.bytesPerConnection;
    if (off == null || on == null) continue;
    const more = (on - off) / 1024;
    check(`recording on: <= 16 KiB more per idle console @${n}`, `${more.toFixed(1)} KiB (${(on / 1024).toFixed(1)} vs ${(off / 1024).toFixed(1)})`, more <= 16);
  }
  return lines.length > 1 ? lines : [];
}

function formatTable(results: ServerResult[], counts: number[]): string[] {
  const head = ['server', 'MiB/s', 'verified', 'CPU s/GiB', 'p50 us', 'p99 us', ...counts.map((n) => `KiB/conn @${n}`)];
  const rows = results.map((r) => {
    if (r.status !== 'ok') return [r.name, r.status === 'failed' ? `failed: ${r.note ?? ''}` : r.status, '', '', '', '', ...counts.map(() => '')];
    return [
      r.name,
      r.throughputMiBps?.toFixed(0) ?? '-',
      String(r.throughputVerified ?? '-'),
      r.cpuSecondsPerGiB?.toFixed(2) ?? '-',
      r.latencyP50Us?.toFixed(0) ?? '-',
      r.latencyP99Us?.toFixed(0) ?? '-',
      ...counts.map((n) => {
        const m = r.memory?.find((x) => x.wanted === n);
        if (!m || m.bytesPerConnection === null) return '-';
        const kib = (m.bytesPerConnection / 1024).toFixed(1);
        return m.reached < n ? `${kib} (reached ${m.reached})` : kib;
      }),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const childAt = process.argv.indexOf(CHILD_FLAG);
  if (childAt !== -1) {
    void runChild(process.argv[childAt + 1] ?? '', process.argv.slice(childAt + 2));
  } else {
    const quick = process.argv.includes('--quick');
    const flag = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    const only = flag('only')?.split(',');
    const profileDir = flag('profile');
    const phases = flag('phases')?.split(',');
    const gatewayFlags = flag('gateway-flags')?.split(' ').filter((f) => f !== '');
    const idleMs = flag('idle-ms');
    runConsoleBench({
      ...(quick ? { throughputBytes: 32 * MiB, latencyRoundTrips: 500, latencyRounds: 3, connectionCounts: [200, 1_000] } : {}),
      ...(only ? { only } : {}),
      ...(profileDir ? { profileDir } : {}),
      ...(phases ? { phases } : {}),
      ...(gatewayFlags ? { gatewayFlags } : {}),
      ...(idleMs ? { idleMs: Number(idleMs) } : {}),
      ...(process.argv.includes('--threads') ? { threads: true } : {}),
    }).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}
