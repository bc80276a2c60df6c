/**
 * The Abiquo provider. Listings come from a cache filled by a full walk at start and after every event
 * stream (re)connect (the Outbound API has no replay), and kept fresh by events: a VM event refreshes
 * only its enterprise, debounced; an event naming an enterprise we do not know refreshes the enterprise
 * list. Each change of the cache rewrites the websockify token file when one is configured.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import {
  ConsoleUnavailableError,
  GatewayError,
  NotFoundError,
  UpstreamResponseError,
  UpstreamUnavailableError,
} from '../../errors.js';
import type { EventPublisher } from '../../events/types.js';
import type { Logger } from '../../logger.js';
import type {
  ConsoleTarget,
  Provider,
  ReadyStatus,
  TlsOptions,
  UpstreamStateRecord,
  VmListPage,
  VmListRequest,
  VmRecord,
} from '../types.js';
import { AbiquoClient, type AbiquoAuth } from './client.js';
import type { AbiquoEvent } from './events.js';
import type { AbiquoFormat } from './media-types.js';
import { vdrpTarget, type AbiquoEnterprise, type AbiquoVm } from './model.js';
import { formatUpstreamId, matchesFilter, parseUpstreamId, toVmRecord } from './records.js';
import { AbiquoEventStream, DEFAULT_STREAM_ACTIONS, type AbiquoEventStreamState } from './stream.js';
import { realTimers, type TimerHandle, type Timers } from './timers.js';
import { TokenFileWriter, renderTokenFile, type TokenFileState } from './token-file.js';

/** Structurally the validated `abiquo` provider config of src/config.ts; defaults apply to absent fields. */
export interface AbiquoProviderOptions {
  name: string;
  /** API root, e.g. `https://abiquo.example/api` (a bare origin means `<origin>/api`). */
  url: string;
  username?: string;
  password?: string;
  /** Used instead of username/password when set. */
  token?: string;
  /** @default 'Token' */
  tokenScheme?: 'Token' | 'Bearer';
  /** Media type version. @default '4.7' */
  apiVersion?: string;
  /** @default 'json' */
  format?: AbiquoFormat;
  /** Enterprises read at once. @default 8 */
  concurrency?: number;
  /** Collection page size. @default 25 */
  pageSize?: number;
  events?: {
    /** Consume the Outbound API stream. @default true */
    enabled?: boolean;
    /** `action` filter. @default DEPLOY, UNDEPLOY, DEPLOY_FINISH, UNDEPLOY_FINISH */
    actions?: readonly string[];
    /** Stream URL. @default `<origin of url>/m/stream` */
    url?: string;
  };
  tokenFile?: { path: string };
  /** `ca` is a path to a PEM file, read once here. */
  tls?: { ca?: string; insecure?: boolean };
  timeouts?: {
    /** @default 5000 */
    connectMs?: number;
    /** @default 15000 */
    requestMs?: number;
  };
  /** Milliseconds between a VM event and the refresh of its enterprise; events inside the window share one refresh. @default 250 */
  refreshDebounceMs?: number;
  /** Milliseconds between full walks that catch anything events missed; 0 turns them off. @default 300000 */
  resyncIntervalMs?: number;
  /** Reconnect backoff of the event stream, milliseconds. @default { initialMs: 1000, maxMs: 60000 } */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface AbiquoProviderDeps {
  publisher: EventPublisher;
  logger?: Logger;
  timers?: Timers;
  /** Uniform random in [0, 1) for backoff jitter. @default Math.random */
  random?: () => number;
  /** Epoch milliseconds. @default Date.now */
  now?: () => number;
}

/** What changed in the cache; observers (tests, metrics) learn of it through onUpdate(). */
export type AbiquoCacheUpdate =
  | { kind: 'walk'; ok: boolean }
  | { kind: 'enterprise'; enterpriseId: number; ok: boolean }
  | { kind: 'enterprise-list'; ok: boolean };

/** Detailed, synchronous view of the cache (tests, diagnostics); `state()` is the contract's summary. */
export interface AbiquoCacheState {
  /** A full walk has succeeded at least once. */
  loaded: boolean;
  enterprises: number;
  vms: number;
  lastWalk: { ok: boolean; at: string | null; errorCode: string | null };
  /** Enterprises whose VMs could not be read on their last attempt (their older VMs are still served). */
  enterpriseErrors: Array<{ enterpriseId: number; code: string }>;
  stream: AbiquoEventStreamState | null;
  tokenFile: TokenFileState | null;
}

export interface AbiquoProvider extends Provider {
  /** The token file text for the cached VMs (what the file holds after the next write). */
  tokenFileText(): string;
  cacheState(): AbiquoCacheState;
  /** Re-read one enterprise's VMs now. Never rejects: failures show in state(). */
  refreshEnterprise(enterpriseId: number): Promise<void>;
  /** Run a full walk now (coalesced with one in progress). Never rejects. */
  resync(): Promise<void>;
  onUpdate(listener: (update: AbiquoCacheUpdate) => void): () => void;
}

interface EnterpriseEntry {
  enterprise: AbiquoEnterprise;
  vms: AbiquoVm[];
  error: GatewayError | null;
  /** Sequence number of the read that produced `vms`; an older read never overwrites a newer one. */
  seq: number;
}

export function createAbiquoProvider(config: AbiquoProviderOptions, deps: AbiquoProviderDeps): AbiquoProvider {
  return new AbiquoProviderImpl(config, deps);
}

function authOf(config: AbiquoProviderOptions): AbiquoAuth {
  if (config.token !== undefined) return { token: config.token, scheme: config.tokenScheme ?? 'Token' };
  if (config.username === undefined || config.password === undefined) {
    throw new TypeError(`abiquo provider "${config.name}" needs a token or a username and password`);
  }
  return { username: config.username, password: config.password };
}

class AbiquoProviderImpl implements AbiquoProvider {
  readonly name: string;
  readonly kind = 'abiquo' as const;
  readonly defaultConsoleMode = 'GATEWAY' as const;

  readonly #client: AbiquoClient;
  readonly #stream: AbiquoEventStream | null;
  readonly #tokenFile: TokenFileWriter | null;
  readonly #publisher: EventPublisher;
  readonly #logger: Logger;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #debounceMs: number;
  readonly #resyncIntervalMs: number;
  readonly #listeners = new Set<(u: AbiquoCacheUpdate) => void>();
  readonly #cache = new Map<number, EnterpriseEntry>();
  readonly #refreshTimers = new Map<number, TimerHandle>();
  #listRefreshTimer: TimerHandle | null = null;
  #resyncTimer: TimerHandle | null = null;
  #records: VmRecord[] | null = null;
  #seq = 0;
  #loaded = false;
  #walking: Promise<void> | null = null;
  #walkAgain = false;
  #lastWalk: { ok: boolean; at: number | null; error: GatewayError | null } = { ok: false, at: null, error: null };
  #closed = false;
  #lastEventAt: number | null = null;
  readonly #actions: readonly string[];

  constructor(config: AbiquoProviderOptions, deps: AbiquoProviderDeps) {
    this.name = config.name;
    this.#publisher = deps.publisher;
    this.#logger = deps.logger ?? pino({ level: 'silent' });
    this.#timers = deps.timers ?? realTimers;
    this.#now = deps.now ?? Date.now;
    this.#debounceMs = config.refreshDebounceMs ?? 250;
    this.#resyncIntervalMs = config.resyncIntervalMs ?? 300_000;
    const auth = authOf(config);
    this.#actions = config.events?.actions ?? DEFAULT_STREAM_ACTIONS;
    const tls: TlsOptions = {
      ...(config.tls?.ca ? { ca: readFileSync(config.tls.ca, 'utf8') } : {}),
      ...(config.tls?.insecure ? { insecure: true } : {}),
    };
    this.#client = new AbiquoClient({
      name: config.name,
      url: config.url,
      auth,
      ...(config.apiVersion !== undefined ? { apiVersion: config.apiVersion } : {}),
      ...(config.format !== undefined ? { format: config.format } : {}),
      ...(config.pageSize !== undefined ? { pageSize: config.pageSize } : {}),
      ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
      tls,
      ...(config.timeouts?.connectMs !== undefined ? { connectTimeoutMs: config.timeouts.connectMs } : {}),
      ...(config.timeouts?.requestMs !== undefined ? { requestTimeoutMs: config.timeouts.requestMs } : {}),
    });
    this.#tokenFile = config.tokenFile ? new TokenFileWriter({ path: config.tokenFile.path }) : null;
    this.#stream =
      config.events?.enabled === false
        ? null
        : new AbiquoEventStream({
            name: config.name,
            url: config.events?.url ?? `${new URL(config.url).origin}/m/stream`,
            auth,
            actions: this.#actions,
            onEvent: (e) => this.#onEvent(e),
            // No replay on the stream: whatever happened while it was down is only seen by a full walk.
            onConnected: () => void this.resync(),
            timers: this.#timers,
            ...(deps.random ? { random: deps.random } : {}),
            ...(config.backoff?.initialMs !== undefined ? { initialBackoffMs: config.backoff.initialMs } : {}),
            ...(config.backoff?.maxMs !== undefined ? { maxBackoffMs: config.backoff.maxMs } : {}),
            tls,
            ...(config.timeouts?.connectMs !== undefined ? { connectTimeoutMs: config.timeouts.connectMs } : {}),
            ...(config.timeouts?.requestMs !== undefined ? { headersTimeoutMs: config.timeouts.requestMs } : {}),
            logger: this.#logger,
          });
    void this.resync();
    this.#stream?.start();
  }

  // ---- Provider ------------------------------------------------------------------------------

  parseUpstreamId(upstreamId: string): void {
    parseUpstreamId(upstreamId);
  }

  async listVms(req: VmListRequest): Promise<VmListPage> {
    await this.#ensureLoaded();
    const all = this.#allRecords().filter((r) => matchesFilter(r, req.filter));
    const skip = Math.max(0, req.skip);
    const first = Math.max(0, req.first);
    // An enterprise that failed its last read is listed with what we had (if anything) and named in a warning.
    const warnings = [...this.#cache.values()]
      .filter((e) => e.error !== null)
      .map(
        (e) =>
          new UpstreamResponseError(this.name, `enterprise ${e.enterprise.id} ("${e.enterprise.name}") could not be listed: ${e.error!.code}`, {
            enterpriseId: e.enterprise.id,
          }),
      );
    return { vms: all.slice(skip, skip + first), hasMore: all.length > skip + first, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  async getVm(upstreamId: string): Promise<VmRecord | null> {
    const { enterpriseId, vmId } = parseUpstreamId(upstreamId);
    await this.#ensureLoaded();
    const entry = this.#cache.get(enterpriseId);
    const vm = entry?.vms.find((v) => v.id === vmId);
    return entry && vm ? toVmRecord(this.name, entry.enterprise, vm) : null;
  }

  /** Answered from the cache: no upstream call. */
  async assertConsoleAvailable(upstreamId: string): Promise<void> {
    await this.consoleTarget(upstreamId);
  }

  async consoleTarget(upstreamId: string): Promise<ConsoleTarget> {
    const { enterpriseId, vmId } = parseUpstreamId(upstreamId);
    await this.#ensureLoaded();
    const vm = this.#cache.get(enterpriseId)?.vms.find((v) => v.id === vmId);
    if (!vm) throw new NotFoundError('no such virtual machine', { provider: this.name, id: upstreamId });
    if (vm.vdrpEnabled === false) {
      throw new ConsoleUnavailableError('the remote desktop of this virtual machine is disabled', { provider: this.name, id: upstreamId });
    }
    const target = vdrpTarget(vm);
    if (!target) {
      throw new ConsoleUnavailableError('this virtual machine has no usable remote desktop address', { provider: this.name, id: upstreamId });
    }
    const hostPart = target.host.includes(':') ? `[${target.host}]` : target.host;
    return { kind: 'tcp', host: target.host, port: target.port, vncPassword: vm.password, describe: `vnc://${hostPart}:${target.port}` };
  }

  async checkReady(): Promise<ReadyStatus> {
    const started = this.#now();
    try {
      await this.#client.ping();
    } catch (err) {
      return { ok: false, detail: err instanceof GatewayError ? err.message : 'the API did not answer', latencyMs: this.#now() - started };
    }
    const latencyMs = this.#now() - started;
    if (!this.#loaded || !this.#lastWalk.ok) {
      const why = this.#lastWalk.error ? this.#lastWalk.error.code : this.#walking ? 'in progress' : 'not run';
      return { ok: false, detail: `the VM list is not loaded (last walk: ${why})`, latencyMs };
    }
    const tokenFile = this.#tokenFile?.state();
    if (tokenFile && !tokenFile.ok) {
      return { ok: false, detail: `the token file cannot be written (${tokenFile.lastError ?? 'unknown'})`, latencyMs };
    }
    const failing = [...this.#cache.values()].filter((e) => e.error !== null).length;
    return failing > 0 ? { ok: true, latencyMs, detail: `${failing} enterprise(s) could not be read` } : { ok: true, latencyMs };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#refreshTimers.values()) this.#timers.clearTimeout(t);
    this.#refreshTimers.clear();
    if (this.#listRefreshTimer !== null) this.#timers.clearTimeout(this.#listRefreshTimer);
    if (this.#resyncTimer !== null) this.#timers.clearTimeout(this.#resyncTimer);
    await this.#stream?.stop();
    await this.#client.close();
  }

  // ---- extras --------------------------------------------------------------------------------

  tokenFileText(): string {
    return renderTokenFile([...this.#cache.values()].flatMap((e) => e.vms));
  }

  /**
   * Summary for the `upstreams` query: with events on, `connected` is the event stream's; without, the last
   * walk's. `registrations` lists the Outbound API `action` filter subscribed to.
   */
  async state(): Promise<UpstreamStateRecord> {
    const stream = this.#stream?.state();
    const walkError = this.#lastWalk.error?.code ?? null;
    return {
      connected: stream ? stream.connected : this.#loaded && this.#lastWalk.ok,
      lastEventAt: this.#lastEventAt === null ? null : new Date(this.#lastEventAt).toISOString(),
      registrations: this.#stream ? [...this.#actions] : [],
      lastError: stream?.lastError ?? walkError ?? (this.#tokenFile?.state().ok === false ? 'token file not writable' : null),
    };
  }

  cacheState(): AbiquoCacheState {
    const entries = [...this.#cache.values()];
    return {
      loaded: this.#loaded,
      enterprises: entries.length,
      vms: entries.reduce((n, e) => n + e.vms.length, 0),
      lastWalk: {
        ok: this.#lastWalk.ok,
        at: this.#lastWalk.at === null ? null : new Date(this.#lastWalk.at).toISOString(),
        errorCode: this.#lastWalk.error?.code ?? null,
      },
      enterpriseErrors: entries
        .filter((e) => e.error !== null)
        .map((e) => ({ enterpriseId: e.enterprise.id, code: e.error!.code }))
        .sort((a, b) => a.enterpriseId - b.enterpriseId),
      stream: this.#stream?.state() ?? null,
      tokenFile: this.#tokenFile?.state() ?? null,
    };
  }

  onUpdate(listener: (update: AbiquoCacheUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  resync(): Promise<void> {
    if (this.#walking) {
      this.#walkAgain = true;
      return this.#walking;
    }
    this.#walking = this.#walkLoop();
    return this.#walking;
  }

  async refreshEnterprise(enterpriseId: number): Promise<void> {
    const entry = this.#cache.get(enterpriseId);
    if (!entry) return this.#refreshEnterpriseList();
    const seq = ++this.#seq;
    const ok = await this.#readEnterprise(entry.enterprise, seq);
    await this.#changed({ kind: 'enterprise', enterpriseId, ok });
  }

  // ---- cache ---------------------------------------------------------------------------------

  async #ensureLoaded(): Promise<void> {
    if (this.#loaded) return;
    await (this.#walking ?? this.resync());
    if (this.#loaded) return;
    throw this.#lastWalk.error ?? new UpstreamUnavailableError(this.name, 'the VM list has not been read yet');
  }

  async #walkLoop(): Promise<void> {
    try {
      do {
        this.#walkAgain = false;
        await this.#walkOnce();
      } while (this.#walkAgain && !this.#closed);
    } finally {
      // Runs in the same microtask as the last loop check: a resync() after this starts a new loop.
      this.#walking = null;
    }
  }

  async #walkOnce(): Promise<void> {
    const startSeq = ++this.#seq;
    let ok = false;
    try {
      const result = await this.#client.walk();
      if (this.#closed) return;
      const listed = new Set(result.enterprises.map((e) => e.id));
      for (const [id, entry] of this.#cache) if (!listed.has(id) && entry.seq < startSeq) this.#cache.delete(id);
      const vmsOf = new Map<number, AbiquoVm[]>();
      for (const { enterpriseId, vm } of result.vms) {
        const list = vmsOf.get(enterpriseId) ?? [];
        list.push(vm);
        vmsOf.set(enterpriseId, list);
      }
      const errorOf = new Map(result.errors.map((e) => [e.enterpriseId, e.error]));
      for (const enterprise of result.enterprises) {
        const existing = this.#cache.get(enterprise.id);
        if (existing && existing.seq > startSeq) continue;
        const error = errorOf.get(enterprise.id);
        if (error) {
          this.#logger.warn({ enterpriseId: enterprise.id, code: error.code, reason: error.message }, 'abiquo enterprise could not be read');
          this.#cache.set(enterprise.id, { enterprise, vms: existing?.vms ?? [], error, seq: existing?.seq ?? 0 });
        } else {
          this.#cache.set(enterprise.id, { enterprise, vms: vmsOf.get(enterprise.id) ?? [], error: null, seq: startSeq });
        }
      }
      this.#loaded = true;
      this.#lastWalk = { ok: true, at: this.#now(), error: null };
      ok = true;
    } catch (err) {
      const error = err instanceof GatewayError ? err : new UpstreamResponseError(this.name, 'the walk failed unexpectedly', {}, { cause: err });
      this.#lastWalk = { ok: false, at: this.#now(), error };
      this.#logger.warn({ code: error.code, reason: error.message }, 'abiquo walk failed');
    }
    this.#scheduleResync();
    await this.#changed({ kind: 'walk', ok });
  }

  /** Read one enterprise's VMs into the cache; false when it failed (recorded on the entry). */
  async #readEnterprise(enterprise: AbiquoEnterprise, seq: number): Promise<boolean> {
    try {
      const vms = await this.#client.listEnterpriseVms(enterprise);
      const current = this.#cache.get(enterprise.id);
      if (this.#closed || (current && current.seq > seq)) return true;
      this.#cache.set(enterprise.id, { enterprise: current?.enterprise ?? enterprise, vms, error: null, seq });
      return true;
    } catch (err) {
      const error = err instanceof GatewayError ? err : new UpstreamResponseError(this.name, 'unexpected failure', {}, { cause: err });
      const current = this.#cache.get(enterprise.id);
      if (this.#closed || (current && current.seq > seq)) return false;
      if (error.details.status === 404) {
        // The enterprise is gone: so are its VMs.
        this.#cache.delete(enterprise.id);
      } else if (current) {
        this.#cache.set(enterprise.id, { ...current, error });
      } else {
        this.#cache.set(enterprise.id, { enterprise, vms: [], error, seq: 0 });
      }
      this.#logger.warn({ enterpriseId: enterprise.id, code: error.code, reason: error.message }, 'abiquo enterprise could not be read');
      return false;
    }
  }

  /** Re-read the enterprise list: drop enterprises that are gone, read the VMs of new ones. */
  async #refreshEnterpriseList(): Promise<void> {
    const seq = ++this.#seq;
    let ok = true;
    try {
      const enterprises = await this.#client.listEnterprises();
      if (this.#closed) return;
      const listed = new Set(enterprises.map((e) => e.id));
      for (const [id, entry] of this.#cache) if (!listed.has(id) && entry.seq < seq) this.#cache.delete(id);
      const fresh: AbiquoEnterprise[] = [];
      for (const enterprise of enterprises) {
        const entry = this.#cache.get(enterprise.id);
        if (entry) entry.enterprise = enterprise;
        else fresh.push(enterprise);
      }
      const results = await Promise.all(fresh.map((e) => this.#readEnterprise(e, seq)));
      ok = results.every(Boolean);
    } catch (err) {
      ok = false;
      const code = err instanceof GatewayError ? err.code : 'INTERNAL_SERVER_ERROR';
      this.#logger.warn({ code }, 'abiquo enterprise list could not be read');
    }
    await this.#changed({ kind: 'enterprise-list', ok });
  }

  async #changed(update: AbiquoCacheUpdate): Promise<void> {
    if (this.#closed) return;
    this.#records = null;
    if (this.#tokenFile) {
      await this.#tokenFile.write(this.tokenFileText());
      const state = this.#tokenFile.state();
      if (!state.ok) this.#logger.error({ path: state.path, code: state.lastError }, 'abiquo token file could not be written');
    }
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch (err) {
        this.#logger.error({ err }, 'abiquo cache listener threw');
      }
    }
  }

  #allRecords(): VmRecord[] {
    if (this.#records) return this.#records;
    const entries = [...this.#cache.values()].sort((a, b) => a.enterprise.id - b.enterprise.id);
    this.#records = entries.flatMap((e) =>
      [...e.vms].sort((a, b) => a.id - b.id).map((vm) => toVmRecord(this.name, e.enterprise, vm)),
    );
    return this.#records;
  }

  #scheduleResync(): void {
    if (this.#resyncIntervalMs <= 0 || this.#closed) return;
    if (this.#resyncTimer !== null) this.#timers.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = this.#timers.setTimeout(() => {
      this.#resyncTimer = null;
      void this.resync();
    }, this.#resyncIntervalMs);
  }

  // ---- events --------------------------------------------------------------------------------

  #enterpriseOfVm(vmId: number): number | null {
    for (const [id, entry] of this.#cache) if (entry.vms.some((v) => v.id === vmId)) return id;
    return null;
  }

  #onEvent(event: AbiquoEvent): void {
    if (this.#closed) return;
    this.#lastEventAt = this.#now();
    const enterpriseId = event.enterpriseId ?? (event.vmId !== null ? this.#enterpriseOfVm(event.vmId) : null);
    const isVm = event.vmId !== null || event.entityType === 'VIRTUAL_MACHINE';
    const key =
      enterpriseId !== null && event.vmId !== null
        ? `${this.name}:${formatUpstreamId(enterpriseId, event.vmId)}`
        : (event.entityUri ?? event.enterpriseUri ?? '');
    const stamp = event.timestamp !== null && Number.isFinite(new Date(event.timestamp).getTime()) ? event.timestamp : this.#now();
    try {
      this.#publisher.publish({
        source: 'ABIQUO',
        provider: this.name,
        type: isVm ? 'virtualmachines' : (event.entityType ?? 'events').toLowerCase(),
        action: event.action,
        key,
        time: new Date(stamp).toISOString(),
        principal: event.userUri,
        object: event.raw,
        original: null,
      });
    } catch (err) {
      this.#logger.error({ err }, 'publishing an abiquo event failed');
    }
    if (!isVm) return;
    if (!this.#loaded) {
      // The walk in progress (or the next one) will see the change.
      void this.resync();
    } else if (enterpriseId !== null && this.#cache.has(enterpriseId)) {
      this.#debounceEnterprise(enterpriseId);
    } else {
      this.#debounceEnterpriseList();
    }
  }

  #debounceEnterprise(enterpriseId: number): void {
    if (this.#refreshTimers.has(enterpriseId)) return;
    const timer = this.#timers.setTimeout(() => {
      this.#refreshTimers.delete(enterpriseId);
      void this.refreshEnterprise(enterpriseId);
    }, this.#debounceMs);
    this.#refreshTimers.set(enterpriseId, timer);
  }

  #debounceEnterpriseList(): void {
    if (this.#listRefreshTimer !== null) return;
    this.#listRefreshTimer = this.#timers.setTimeout(() => {
      this.#listRefreshTimer = null;
      void this.#refreshEnterpriseList();
    }, this.#debounceMs);
  }
}
