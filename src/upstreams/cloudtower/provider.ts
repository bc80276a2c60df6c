/** CloudTower as a gateway provider: listings with filters pushed down, consoles via the `vnc` query. */
import type { Clock } from '../../clock.js';
import { BadUserInputError, ConsoleUnavailableError, NotFoundError, isGatewayError } from '../../errors.js';
import type { UpstreamDeps } from '../descriptor.js';
import { loadTls } from '../shared/tls.js';
import type { ConsoleAccessRecord, ConsoleTarget, Provider, TlsOptions, ReadyStatus, UpstreamStateRecord, VmFilter, VmListPage, VmListRequest, VmRecord, VmStatus } from '../types.js';
import { CloudTowerClient, type CloudTowerAuth, type CloudTowerVm, type CloudTowerVnc } from './client.js';
import type { CloudTowerProviderConfig } from './config.js';
import { describeEndpoint, directConsoleUrl, towerConsoleUrl } from './console-urls.js';

const STATUSES: ReadonlySet<string> = new Set(['RUNNING', 'STOPPED', 'SUSPENDED', 'DELETED', 'UNKNOWN']);
/** CloudTower ids are cuids; accept a little more, but nothing that could smuggle syntax upstream. */
const VM_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function toCloudTowerWhere(filter: VmFilter | undefined): Record<string, unknown> | undefined {
  if (!filter) return undefined;
  const and: Record<string, unknown>[] = [];
  if (filter.name != null) and.push({ name: filter.name });
  if (filter.nameContains != null) and.push({ name_contains: filter.nameContains });
  if (filter.nameStartsWith != null) and.push({ name_starts_with: filter.nameStartsWith });
  if (filter.status != null) and.push({ status_in: filter.status.filter((s) => STATUSES.has(s)) });
  if (filter.cluster != null) and.push({ cluster: { name: filter.cluster } });
  if (and.length === 0) return undefined;
  return and.length === 1 ? and[0] : { AND: and };
}

function toVmRecord(provider: string, vm: CloudTowerVm): VmRecord {
  const raw = vm.status ?? 'UNKNOWN';
  return {
    provider,
    providerKind: 'cloudtower',
    upstreamId: vm.id,
    name: vm.name,
    status: (STATUSES.has(raw) ? raw : 'UNKNOWN') as VmStatus,
    rawStatus: raw,
    cluster: vm.cluster ? { id: vm.cluster.id, name: vm.cluster.name } : null,
    host: vm.host ? { id: vm.host.id, name: vm.host.name, ip: vm.host.management_ip ?? null } : null,
    vcpu: vm.vcpu ?? null,
    memoryBytes: vm.memory ?? null,
  };
}

/** The schema refuses an entry without a token or a username and password, so one of the two is there. */
function authOf(config: CloudTowerProviderConfig): CloudTowerAuth {
  if (config.token !== undefined) return { token: config.token };
  if (config.username === undefined || config.password === undefined) throw new Error(`provider "${config.name}": no credentials (config not validated?)`);
  return { username: config.username, password: config.password, source: config.userSource };
}

export class CloudTowerProvider implements Provider {
  readonly kind = 'cloudtower' as const;
  readonly name: string;
  readonly defaultConsoleMode;
  readonly consoleModes;
  readonly client: CloudTowerClient;
  private readonly config: CloudTowerProviderConfig;
  private readonly towerHost: string;
  private readonly tls: TlsOptions;
  private readonly clock: Clock;

  constructor(config: CloudTowerProviderConfig, deps: UpstreamDeps) {
    this.config = config;
    this.clock = deps.clock;
    this.name = config.name;
    this.defaultConsoleMode = config.consoleMode;
    this.consoleModes = config.consoleModes;
    this.towerHost = new URL(config.url).hostname.replace(/^\[(.*)\]$/, '$1');
    this.tls = loadTls(config.tls);
    this.client = new CloudTowerClient({
      name: config.name,
      url: config.url,
      auth: authOf(config),
      tls: this.tls,
      connectTimeoutMs: config.timeouts.connectMs,
      requestTimeoutMs: config.timeouts.requestMs,
      maxResponseBytes: config.limits.maxResponseBytes,
      logger: deps.logger,
    });
  }

  parseUpstreamId(upstreamId: string): void {
    if (!VM_ID.test(upstreamId)) throw new BadUserInputError(`"${this.name}" VM ids are letters, digits, "_" and "-"`, { provider: this.name });
  }

  async listVms(req: VmListRequest): Promise<VmListPage> {
    const where = toCloudTowerWhere(req.filter);
    // Ask one more than needed so we know whether another page exists; name order keeps offsets stable.
    const vms = await this.client.getVms({ ...(where ? { where } : {}), orderBy: 'name_ASC', skip: req.skip, first: req.first + 1 });
    return { vms: vms.slice(0, req.first).map((vm) => toVmRecord(this.name, vm)), hasMore: vms.length > req.first };
  }

  async getVm(upstreamId: string): Promise<VmRecord | null> {
    const [vm] = await this.client.getVms({ where: { id: upstreamId }, first: 1 });
    return vm ? toVmRecord(this.name, vm) : null;
  }

  async upstreamConsoleUrl(upstreamId: string, mode: 'DIRECT' | 'UPSTREAM'): Promise<ConsoleAccessRecord> {
    const vnc = await this.vnc(upstreamId);
    const url = mode === 'DIRECT' ? directConsoleUrl(vnc, this.config.websockify.cluster) : towerConsoleUrl(vnc, this.towerHost, this.config.websockify.tower);
    // websockify negotiates `binary`; CloudTower does not say how long its console tokens live.
    return { url, mode, protocols: ['binary'], expiresAt: null };
  }

  async consoleTarget(upstreamId: string): Promise<ConsoleTarget> {
    const vnc = await this.vnc(upstreamId);
    const url =
      this.config.gatewayRoute === 'tower'
        ? towerConsoleUrl(vnc, this.towerHost, this.config.websockify.tower)
        : directConsoleUrl(vnc, this.config.websockify.cluster);
    return { kind: 'websocket', url, protocols: ['binary'], tls: this.tls, describe: describeEndpoint(url) };
  }

  async checkReady(): Promise<ReadyStatus> {
    const started = this.clock.now();
    try {
      await this.client.getVms({ first: 1 });
      return { ok: true, latencyMs: this.clock.now() - started };
    } catch (err) {
      return { ok: false, detail: isGatewayError(err) ? `${err.code}: ${err.message}` : 'unexpected error' };
    }
  }

  /** CloudTower is request/response: "connected" means a readiness probe just succeeded. */
  async state(): Promise<UpstreamStateRecord> {
    const ready = await this.checkReady();
    return { connected: ready.ok, lastEventAt: null, registrations: [], lastError: ready.ok ? null : (ready.detail ?? null) };
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async vnc(upstreamId: string): Promise<CloudTowerVnc> {
    this.parseUpstreamId(upstreamId);
    const vnc = await this.client.vnc(upstreamId);
    if (vnc) return vnc;
    // The vnc query failed; tell "no such VM" apart from "VM exists but has no console".
    if (!(await this.getVm(upstreamId))) throw new NotFoundError(`VM "${this.name}:${upstreamId}" does not exist`, { provider: this.name });
    throw new ConsoleUnavailableError(`CloudTower gave no console for VM "${this.name}:${upstreamId}"`, { provider: this.name });
  }
}
