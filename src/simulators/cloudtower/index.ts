/**
 * SmartX CloudTower simulator: a real HTTP server speaking the parts of CloudTower's API the
 * gateway uses (login, get-vms, get-vms-connection, the `vnc` GraphQL query and its REST twin) and
 * the websockify endpoint consoles go through. Facts come from /work/shared/UPSTREAMS.md and seed
 * 000; behaviour no public source confirms is marked *unverified* where it is implemented.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { handleRequest } from './routes.js';
import type { RequestLogEntry, RouteContext } from './routes.js';
import { FaultPlan } from './faults.js';
import type { FaultRule } from './faults.js';
import { SessionStore } from './sessions.js';
import type { SimulatedUser } from './sessions.js';
import { VncCredentialStore } from './vnc-credentials.js';
import type { VncAnswer } from './vnc-credentials.js';
import { defaultCloudTowerVms, makeSimulatedVm, toApiVm } from './vms.js';
import type { CloudTowerVm, CloudTowerVmStatus, SimulatedVm } from './vms.js';
import { Websockify, hasConsoleProcess } from './websockify.js';
import type { ConsoleLocator, WebsockifyLogEntry } from './websockify.js';
import type { VmWhereUnique } from './graphql.js';

export { defaultCloudTowerVms, makeSimulatedVm, toApiVm, cuidLike, VM_WHERE_SCHEMA } from './vms.js';
export type { CloudTowerVm, CloudTowerVmStatus, CloudTowerGuestOsType, PinnedVncAnswer, SimulatedVm } from './vms.js';
export type { FaultKind, FaultRule } from './faults.js';
export { GARBAGE_BODY } from './faults.js';
export type { LoginSource, SimulatedUser } from './sessions.js';
export type { RequestLogEntry } from './routes.js';
export type { RestErrorBody } from './http.js';
export type { VncAnswer, WebsockifyUrlForm } from './vnc-credentials.js';
export { randomRawToken, randomTowerToken } from './vnc-credentials.js';
export type { ConsoleEndpoint, ConsoleLocator, WebsockifyLogEntry } from './websockify.js';
export { CLOSE_CONSOLE_UNAVAILABLE, CLOSE_TARGET_CLOSED, hasConsoleProcess } from './websockify.js';
export { CLOUDTOWER_GRAPHQL_SDL } from './graphql.js';

/** The default user: CloudTower's documented demo-style admin. */
export const DEFAULT_CLOUDTOWER_USER: SimulatedUser = { username: 'admin', password: 'HC!r0cks', source: 'LOCAL' };

export interface CloudTowerSimulatorOptions {
  /** The VM set, in the order `get-vms` returns it without `orderBy`. Copied. @default defaultCloudTowerVms() */
  vms?: SimulatedVm[];
  /** Users that may log in. @default [DEFAULT_CLOUDTOWER_USER] (admin / HC!r0cks, LOCAL) */
  users?: SimulatedUser[];
  /** API keys accepted in `Authorization` like login tokens; `revokeTokens()` leaves them valid. @default [] */
  apiKeys?: string[];
  /** Milliseconds added before each HTTP answer (not WebSocket upgrades); changeable later via `latencyMs`. @default 0 */
  latencyMs?: number;
  /**
   * Where a VM's console listens (an RFB server), for the websockify bridge. Returning null (or no
   * function) means the handshake completes and the WebSocket is closed with 1011, as websockify
   * does when it cannot reach its target. @default undefined
   */
  consoleFor?: ConsoleLocator;
  /** How long credentials from a `vnc` answer open a console, in milliseconds (*unverified*). @default 300_000 (5 minutes) */
  vncCredentialTtlMs?: number;
  /** `cluster_ip` in `vnc` answers for VMs that do not pin one. Keep it loopback. @default '127.0.0.1' */
  vncClusterIp?: string;
  /** `host_ip` in `vnc` answers for VMs that do not pin one. Keep it loopback. @default '127.0.0.1' */
  vncHostIp?: string;
  /** Bytes of console output buffered toward a slow browser before the console socket is paused. @default 262_144 (256 KiB) */
  consoleHighWaterMark?: number;
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Clock in epoch milliseconds (credential expiry, token `iat`). @default Date.now */
  now?: () => number;
}

interface RequestWaiter {
  predicate: (entry: RequestLogEntry) => boolean;
  resolve: (entry: RequestLogEntry) => void;
}

export class CloudTowerSimulator {
  /** `http://HOST:PORT`, no trailing slash. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Every HTTP request, in arrival order (logged once its body is read, before latency and faults). */
  readonly requests: RequestLogEntry[] = [];
  /** Every websockify handshake that got an answer (or a fault). */
  readonly websockifyConnections: WebsockifyLogEntry[] = [];
  /** Milliseconds added before each HTTP answer. */
  latencyMs: number;

  readonly #server: http.Server;
  readonly #sockets: Set<Socket>;
  readonly #vms: SimulatedVm[];
  readonly #sessions: SessionStore;
  readonly #faults: FaultPlan;
  readonly #vncCredentials: VncCredentialStore;
  readonly #websockify: Websockify;
  readonly #waiters: RequestWaiter[] = [];
  #closed: Promise<void> | null = null;

  /** Use `startCloudTowerSimulator`. @internal */
  constructor(
    server: http.Server,
    sockets: Set<Socket>,
    parts: { vms: SimulatedVm[]; sessions: SessionStore; faults: FaultPlan; vncCredentials: VncCredentialStore; websockify: Websockify; latencyMs: number },
  ) {
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('simulator server is not listening on TCP');
    this.host = address.address;
    this.port = address.port;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.#server = server;
    this.#sockets = sockets;
    this.#vms = parts.vms;
    this.#sessions = parts.sessions;
    this.#faults = parts.faults;
    this.#vncCredentials = parts.vncCredentials;
    this.#websockify = parts.websockify;
    this.latencyMs = parts.latencyMs;
  }

  /** Successful logins since start (failed attempts are only in `requests`). */
  get loginCount(): number {
    return this.#sessions.loginCount;
  }

  /** A snapshot of the VM set as the API would return it. */
  listVms(): CloudTowerVm[] {
    return this.#vms.map(toApiVm);
  }

  /** Make upcoming requests fail; rules apply in the order added. See FaultRule. */
  injectFault(rule: FaultRule): void {
    this.#faults.add(rule);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Invalidate every login token issued so far (API keys stay valid): the next call gets 401. */
  revokeTokens(): void {
    this.#sessions.revokeTokens();
  }

  /** Forget every issued VNC credential: websockify refuses them from now on. */
  revokeVncCredentials(): void {
    this.#vncCredentials.clear();
  }

  /**
   * Change a VM's status, by `id` or `local_id`. Throws when no VM matches. Stopping (or deleting) a
   * VM ends its hypervisor process: its open consoles drop (websockify closes them, 1000 "Target
   * closed") and websockify refuses new ones until it runs again.
   */
  setVmStatus(idOrLocalId: string, status: CloudTowerVmStatus): void {
    const vm = this.#vms.find((v) => v.id === idOrLocalId || v.local_id === idOrLocalId);
    if (!vm) throw new Error(`no simulated VM ${idOrLocalId}`);
    vm.status = status;
    if (!hasConsoleProcess(status)) this.#websockify.dropVm(vm.id);
  }

  /** Append a VM (missing fields get defaults, see makeSimulatedVm). Returns the stored VM's API view. */
  addVm(vm: Partial<SimulatedVm> & { name: string }): CloudTowerVm {
    const full = makeSimulatedVm(vm);
    if (this.#vms.some((v) => v.id === full.id)) throw new Error(`duplicate simulated VM id ${full.id}`);
    this.#vms.push(full);
    return toApiVm(full);
  }

  /** Remove a VM by `id`; false when there was none. Its console credentials stop working and its open consoles drop. */
  removeVm(id: string): boolean {
    const index = this.#vms.findIndex((v) => v.id === id);
    if (index < 0) return false;
    this.#vms.splice(index, 1);
    this.#websockify.dropVm(id);
    return true;
  }

  /**
   * Resolves with the next request (logged after this call) that matches `predicate`. Lets a test
   * know a request reached the simulator without sleeping.
   */
  waitForRequest(predicate: (entry: RequestLogEntry) => boolean = () => true): Promise<RequestLogEntry> {
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }

  /** Stop listening and end every open socket (hung requests and console sessions included). */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#websockify.close();
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closed;
  }

  /** @internal */
  recordRequest(entry: RequestLogEntry): void {
    this.requests.push(entry);
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i] as RequestWaiter;
      if (waiter.predicate(entry)) {
        this.#waiters.splice(i, 1);
        waiter.resolve(entry);
      } else i++;
    }
  }
}

function findVm(vms: readonly SimulatedVm[], where: VmWhereUnique): SimulatedVm | null {
  return (
    vms.find(
      (vm) => (where.id == null || vm.id === where.id) && (where.local_id == null || vm.local_id === where.local_id),
    ) ?? null
  );
}

export async function startCloudTowerSimulator(options: CloudTowerSimulatorOptions = {}): Promise<CloudTowerSimulator> {
  // Read Date.now at call time so vi.useFakeTimers({ toFake: ['Date'] }) applies.
  const now = options.now ?? (() => Date.now());
  const vms = (options.vms ?? defaultCloudTowerVms()).map((vm) => structuredClone(vm));
  const sessions = new SessionStore(options.users ?? [DEFAULT_CLOUDTOWER_USER], options.apiKeys ?? [], now);
  const faults = new FaultPlan();
  const vncCredentials = new VncCredentialStore({
    ttlMs: options.vncCredentialTtlMs ?? 300_000,
    defaultClusterIp: options.vncClusterIp ?? '127.0.0.1',
    defaultHostIp: options.vncHostIp ?? '127.0.0.1',
    now,
  });
  // Filled in once the server listens; the handlers below only run after that.
  let simulator: CloudTowerSimulator | undefined;
  const context: RouteContext = {
    sessions,
    faults,
    latencyMs: () => simulator?.latencyMs ?? 0,
    vms: () => vms,
    findVm: (where) => findVm(vms, where),
    issueVnc: (vm): VncAnswer => vncCredentials.issue(vm),
    record: (entry) => simulator?.recordRequest(entry),
  };
  const websockify = new Websockify({
    credentials: vncCredentials,
    vmById: (id) => vms.find((vm) => vm.id === id),
    consoleFor: options.consoleFor,
    takeFault: (pathname) => faults.take(pathname, true),
    record: (entry) => simulator?.websockifyConnections.push(entry),
    highWaterMark: options.consoleHighWaterMark ?? 256 * 1024,
  });

  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    handleRequest(context, req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    if (!websockify.handleUpgrade(req, socket, head)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  simulator = new CloudTowerSimulator(server, sockets, {
    vms,
    sessions,
    faults,
    vncCredentials,
    websockify,
    latencyMs: options.latencyMs ?? 0,
  });
  return simulator;
}
