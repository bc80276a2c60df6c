/** A gateway in a child process (`tsx src/main.ts`), and small WebSocket clients that report close codes. */
import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';

export interface GatewayProcess {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first match of `re` in the output (now or later); rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  /** JSON log lines printed so far. */
  logLines(): Array<Record<string, unknown>>;
}

/**
 * `node --import tsx src/main.ts`: one process. The `tsx` binary would run the gateway in a child of
 * its own and relay only SIGINT/SIGTERM: a SIGHUP would kill tsx instead of reaching the gateway.
 */
export function spawnGateway(args: string[], env: Record<string, string> = {}): GatewayProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString('utf8');
    for (const l of [...listeners]) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            listeners.delete(check);
            resolve(m);
          }
        };
        listeners.add(check);
        check();
        void exited.then(() => {
          if (listeners.delete(check)) reject(new Error(`exited before ${re}:\n${out}`));
        });
      }),
    logLines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
  };
}

export interface TrackedSocket {
  ws: WebSocket;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next message. */
  nextMessage(): Promise<Buffer>;
}

export function track(ws: WebSocket): TrackedSocket {
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  ws.on('message', (data: Buffer) => {
    const w = waiters.shift();
    if (w) w(data);
    else queue.push(data);
  });
  ws.on('error', () => {});
  return {
    ws,
    opened: new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    }),
    closed: new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    nextMessage: () => {
      const b = queue.shift();
      return b ? Promise.resolve(b) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** A graphql-ws (graphql-transport-ws) connection with one subscription running. */
export async function openSubscription(baseUrl: string, query: string): Promise<TrackedSocket> {
  const t = track(new WebSocket(`${baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws'));
  await t.opened;
  t.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  const ack = JSON.parse((await t.nextMessage()).toString()) as { type: string };
  if (ack.type !== 'connection_ack') throw new Error(`no connection_ack: ${JSON.stringify(ack)}`);
  t.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
  return t;
}

/** A console through the gateway: consoleUrl over HTTP, then the WebSocket with subprotocol `binary`; resolves after the RFB version arrives. */
export async function openConsole(baseUrl: string, vmId: string): Promise<TrackedSocket & { url: string }> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query($id: ID!) { consoleUrl(vmId: $id, mode: GATEWAY) }', variables: { id: vmId } }),
  });
  const body = (await res.json()) as { data?: { consoleUrl?: string }; errors?: unknown };
  const url = body.data?.consoleUrl;
  if (!url) throw new Error(`no consoleUrl: ${JSON.stringify(body.errors)}`);
  const t = track(new WebSocket(url, ['binary']));
  await t.opened;
  const version = (await t.nextMessage()).toString('latin1');
  if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
  return { ...t, url };
}

/** The RFB exchange after the version: our version, then the security types list (proves the session still carries bytes). */
export async function rfbSecurityTypes(t: TrackedSocket): Promise<number[]> {
  t.ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
  const msg = await t.nextMessage();
  return [...msg.subarray(1, 1 + (msg[0] ?? 0))];
}

export async function firstVmId(baseUrl: string, provider: string): Promise<string> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query($p: String) { vms(provider: $p, first: 1) { nodes { id } } }', variables: { p: provider } }),
  });
  const body = (await res.json()) as { data?: { vms?: { nodes: Array<{ id: string }> } }; errors?: unknown };
  const id = body.data?.vms?.nodes[0]?.id;
  if (!id) throw new Error(`no VM: ${JSON.stringify(body.errors)}`);
  return id;
}
