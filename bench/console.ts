/**
 * Console proxy benchmark: the gateway's websockify-compatible endpoint side by side with a bare
 * WebSocket echo (the limit: no proxy hop) and Debian's `websockify` (when installed).
 *
 *   npx tsx bench/console.ts [--quick]
 *
 * Everything runs on loopback in one process tree: this process is the client; the TCP echo
 * target, the WebSocket echo, the gateway and websockify are child processes, so each server's
 * memory can be read on its own. Measured per server:
 *   - throughput: 256 MiB through the server in 64 KiB binary frames, every byte verified;
 *   - latency: p50/p99 of 2,000 sequential 64-byte round trips;
 *   - memory per idle connection: RSS growth (after GC) over 1,000 and 10,000 open consoles,
 *     each proven live by one round trip. Limited by the fd limit: the gateway holds two sockets
 *     per console; the count actually reached is reported.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';

const CHILD_FLAG = '--console-bench-child';
const MiB = 1024 * 1024;

export interface ConsoleBenchOptions {
  /** Bytes pushed through each server for throughput. @default 256 MiB */
  throughputBytes?: number;
  /** Binary frame size for throughput, bytes. @default 64 KiB */
  frameBytes?: number;
  /** Sequential round trips for latency. @default 2_000 */
  latencyRoundTrips?: number;
  /** Idle connection counts for the memory figures. @default [1_000, 10_000] */
  connectionCounts?: number[];
  /** Give up on one measurement after this long, milliseconds. @default 120_000 */
  phaseTimeoutMs?: number;
  /** Where progress and the table go. @default console.log */
  print?: (line: string) => void;
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
  latencyP50Us?: number;
  latencyP99Us?: number;
  memory?: MemoryFigure[];
}

interface Child {
  proc: ChildProcess;
  port: number;
  /** Ask the child to collect garbage, then read its RSS (whole process tree for websockify). */
  memory(): Promise<number>;
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
    const { pino } = await import('pino');
    const { createConsoleEndpoint } = await import('../src/console/endpoint.js');
    const { TicketService } = await import('../src/console/tickets.js');
    const { TokenFileResolver } = await import('../src/upstreams/tokenfile/resolver.js');
    const logger = pino({ level: 'silent' });
    const tokenFile = new TokenFileResolver({ path: args[0] ?? '', logger });
    const endpoint = createConsoleEndpoint({
      tickets: new TicketService(),
      resolveTarget: async () => {
        throw new Error('bench uses token-file targets only');
      },
      tokenFile,
      logger,
    });
    const server = createHttpServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req, socket, head: Buffer) => endpoint.handleUpgrade(req, socket, head));
    server.listen(0, '127.0.0.1', 2048);
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  } else {
    throw new Error(`unknown child kind ${kind}`);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line === 'mem') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
    }
  });
  rl.on('close', () => process.exit(0));
}

function childCommand(): { cmd: string; args: string[] } {
  const self = fileURLToPath(import.meta.url);
  // Under tsx the loader flags are in execArgv; keep them so the child can run TypeScript.
  const loader = process.execArgv.length > 0 ? process.execArgv : ['--import', 'tsx'];
  return { cmd: process.execPath, args: [...loader, '--expose-gc', self] };
}

async function spawnNodeChild(kind: string, args: string[] = []): Promise<Child> {
  const { cmd, args: base } = childCommand();
  // Try to lift the fd limit to the hard limit (sh's ulimit; Node has no setrlimit).
  const proc = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', cmd, ...base, CHILD_FLAG, kind, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! });
  const waiters: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiters.shift()?.(line));
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
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.stdin!.end();
      proc.kill();
      await once(proc, 'exit');
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

/** RSS of a process and all its descendants (websockify forks per connection), bytes. */
function treeRss(root: number): number {
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
  let total = 0;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      total += Number(m?.[1] ?? 0) * 1024;
    } catch {
      // exited meanwhile
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return total;
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

async function measureLatency(url: string, count: number): Promise<{ p50: number; p99: number }> {
  const ws = await open(url);
  const msg = Buffer.alloc(64, 7);
  const samples: number[] = [];
  let pending: (() => void) | null = null;
  let got = 0;
  ws.on('message', (data: Buffer) => {
    got += data.length;
    if (got >= 64 && pending) {
      got -= 64;
      const p = pending;
      pending = null;
      p();
    }
  });
  const warmup = Math.min(200, count);
  for (let i = 0; i < count + warmup; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      ws.send(msg, { binary: true });
    });
    if (i >= warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  ws.terminate();
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
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
  const roundTrips = options.latencyRoundTrips ?? 2_000;
  const counts = options.connectionCounts ?? [1_000, 10_000];
  const phaseMs = options.phaseTimeoutMs ?? 120_000;
  const print = options.print ?? ((line: string) => console.log(line));
  print(bufferutilStatus());

  const dir = mkdtempSync(join(tmpdir(), 'console-bench-'));
  const tokenFile = join(dir, 'tokens');
  const children: Child[] = [];
  const results: ServerResult[] = [];
  try {
    const echo = await spawnNodeChild('tcp-echo');
    children.push(echo);
    writeFileSync(tokenFile, `# console bench\nbench: 127.0.0.1:${echo.port}\n`);

    const servers: Array<{ name: string; start: () => Promise<Child | null>; url: (port: number) => string }> = [
      { name: 'ws echo, no proxy (limit)', start: () => spawnNodeChild('ws-echo'), url: (p) => `ws://127.0.0.1:${p}/` },
      { name: 'bare Node ws->tcp pipe (reference)', start: () => spawnNodeChild('bare-pipe', [String(echo.port)]), url: (p) => `ws://127.0.0.1:${p}/` },
      { name: 'gateway console proxy', start: () => spawnNodeChild('gateway', [tokenFile]), url: (p) => `ws://127.0.0.1:${p}/websockify?token=bench` },
      {
        name: 'websockify (Debian)',
        start: async () => {
          const bin = which('websockify');
          return bin ? spawnWebsockify(bin, tokenFile) : null;
        },
        url: (p) => `ws://127.0.0.1:${p}/?token=bench`,
      },
    ];

    for (const s of servers) {
      print(`-- ${s.name}`);
      let child: Child | null;
      try {
        child = await s.start();
      } catch (err) {
        results.push({ name: s.name, status: 'failed', note: err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (!child) {
        print('   not installed');
        results.push({ name: s.name, status: 'not installed' });
        continue;
      }
      children.push(child);
      const url = s.url(child.port);
      const r: ServerResult = { name: s.name, status: 'ok', memory: [] };
      try {
        const t = await withTimeout(measureThroughput(url, total, frame), phaseMs, 'throughput');
        r.throughputMiBps = t.mibps;
        r.throughputVerified = t.verified;
        print(`   throughput ${t.mibps.toFixed(0)} MiB/s (${(total / MiB).toFixed(0)} MiB, verified: ${t.verified})`);
        const l = await withTimeout(measureLatency(url, roundTrips), phaseMs, 'latency');
        r.latencyP50Us = l.p50;
        r.latencyP99Us = l.p99;
        print(`   latency p50 ${l.p50.toFixed(0)} us, p99 ${l.p99.toFixed(0)} us`);
        for (const n of counts) {
          const m = await withTimeout(measureIdleMemory(url, child, n), phaseMs, `memory at ${n}`);
          r.memory!.push(m);
          print(`   idle x${n}: reached ${m.reached}, ${m.bytesPerConnection === null ? '-' : `${(m.bytesPerConnection / 1024).toFixed(1)} KiB/conn`}${m.note ? ` (${m.note})` : ''}`);
        }
      } catch (err) {
        r.status = 'failed';
        r.note = err instanceof Error ? err.message : String(err);
        print(`   failed: ${r.note}`);
      }
      results.push(r);
      await child.stop();
    }
  } finally {
    for (const c of children) await c.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  print('');
  for (const line of formatTable(results, counts)) print(line);
  return results;
}

function formatTable(results: ServerResult[], counts: number[]): string[] {
  const head = ['server', 'MiB/s', 'verified', 'p50 us', 'p99 us', ...counts.map((n) => `KiB/conn @${n}`)];
  const rows = results.map((r) => {
    if (r.status !== 'ok') return [r.name, r.status === 'failed' ? `failed: ${r.note ?? ''}` : r.status, '', '', '', ...counts.map(() => '')];
    return [
      r.name,
      r.throughputMiBps?.toFixed(0) ?? '-',
      String(r.throughputVerified ?? '-'),
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
    runConsoleBench(quick ? { throughputBytes: 32 * MiB, latencyRoundTrips: 500, connectionCounts: [200, 1_000] } : {}).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}
