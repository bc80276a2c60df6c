/**
 * The Abiquo provider: a facade over the VM cache (cache.ts), filled by a full walk at start and after
 * every event stream (re)connect, since the Outbound API has no replay (refresh.ts), and kept fresh by
 * events (stream.ts, event-mapping.ts, refresh-schedule.ts). Each change of the cache rewrites the
 * websockify token file when one is configured (token-file-sync.ts).
 */
import type { AbiquoProviderConfig } from '../../config.js';
import { ConsoleUnavailableError, GatewayError, NotFoundError, UpstreamResponseError } from '../../errors.js';
import type { PublishingUpstreamDeps } from '../descriptor.js';
import { loadTls } from '../shared/tls.js';
import type { ConsoleTarget, Provider, ReadyStatus, UpstreamStateRecord, VmListPage, VmListRequest, VmRecord } from '../types.js';
import { AbiquoVmCache } from './cache.js';
import { AbiquoClient } from './client.js';
import type { AbiquoEvent } from './events.js';
import { isVmEvent, toGatewayEvent } from './event-mapping.js';
import { vdrpTarget } from './model.js';
import { matchesFilter, parseUpstreamId, toVmRecord } from './records.js';
import { AbiquoRefreshSchedule } from './refresh-schedule.js';
import { AbiquoRefresher, type AbiquoCacheUpdate } from './refresh.js';
import { AbiquoEventStream, type AbiquoEventStreamState } from './stream.js';
import { renderTokenFile, type TokenFileState } from './token-file.js';
import { TokenFileSync } from './token-file-sync.js';

export type { AbiquoCacheUpdate } from './refresh.js';

/** Test-only knobs that are no config setting. */
export interface AbiquoTestOverrides {
  /** Uniform random in [0, 1) for the stream's backoff jitter. @default Math.random */
  random?: () => number;
}

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

export function createAbiquoProvider(config: AbiquoProviderConfig, deps: PublishingUpstreamDeps, overrides: AbiquoTestOverrides = {}): AbiquoProvider {
  return new AbiquoProviderImpl(config, deps, overrides);
}

class AbiquoProviderImpl implements AbiquoProvider {
  readonly name: string;
  readonly kind = 'abiquo' as const;
  readonly defaultConsoleMode = 'GATEWAY' as const;

  readonly #deps: PublishingUpstreamDeps;
  readonly #actions: readonly string[];
  readonly #client: AbiquoClient;
  readonly #cache: AbiquoVmCache;
  readonly #refresher: AbiquoRefresher;
  readonly #schedule: AbiquoRefreshSchedule;
  readonly #stream: AbiquoEventStream | null;
  readonly #tokenFile: TokenFileSync | null;
  readonly #listeners = new Set<(u: AbiquoCacheUpdate) => void>();
  #closed = false;
  #lastEventAt: number | null = null;

  constructor(config: AbiquoProviderConfig, deps: PublishingUpstreamDeps, overrides: AbiquoTestOverrides) {
    this.name = config.name;
    this.#deps = deps;
    this.#actions = config.events.actions;
    const tls = loadTls(config.tls);
    this.#client = new AbiquoClient(config, tls, deps.logger);
    this.#cache = new AbiquoVmCache(config.name);
    this.#tokenFile = config.tokenFile ? new TokenFileSync(config.tokenFile.path, deps.logger) : null;
    this.#refresher = new AbiquoRefresher(config.name, this.#client, this.#cache, deps, (u) => this.#changed(u));
    this.#schedule = new AbiquoRefreshSchedule(config, this.#refresher, this.#cache, deps.clock);
    this.#refresher.onWalked = () => this.#schedule.walked();
    this.#stream = config.events.enabled
      ? new AbiquoEventStream(
          config,
          tls,
          deps,
          {
            onEvent: (e) => this.#onEvent(e),
            // No replay on the stream: whatever happened while it was down is only seen by a full walk.
            onConnected: () => void this.resync(),
          },
          overrides.random,
        )
      : null;
    void this.resync();
    this.#stream?.start();
  }

  // ---- Provider ------------------------------------------------------------------------------

  parseUpstreamId(upstreamId: string): void {
    parseUpstreamId(upstreamId);
  }

  async listVms(req: VmListRequest): Promise<VmListPage> {
    await this.#refresher.ensureLoaded();
    const all = this.#cache.records().filter((r) => matchesFilter(r, req.filter));
    const skip = Math.max(0, req.skip);
    const first = Math.max(0, req.first);
    // An enterprise that failed its last read is listed with what we had (if anything) and named in a warning.
    const warnings = this.#cache.failing().map(
      (e) =>
        new UpstreamResponseError(this.name, `enterprise ${e.enterprise.id} ("${e.enterprise.name}") could not be listed: ${e.error!.code}`, {
          enterpriseId: e.enterprise.id,
        }),
    );
    return { vms: all.slice(skip, skip + first), hasMore: all.length > skip + first, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  async getVm(upstreamId: string): Promise<VmRecord | null> {
    const { enterpriseId, vmId } = parseUpstreamId(upstreamId);
    await this.#refresher.ensureLoaded();
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
    await this.#refresher.ensureLoaded();
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
    const { clock } = this.#deps;
    const started = clock.now();
    try {
      await this.#client.ping();
    } catch (err) {
      return { ok: false, detail: err instanceof GatewayError ? err.message : 'the API did not answer', latencyMs: clock.now() - started };
    }
    const latencyMs = clock.now() - started;
    const lastWalk = this.#refresher.lastWalk;
    if (!this.#refresher.loaded || !lastWalk.ok) {
      const why = lastWalk.error ? lastWalk.error.code : this.#refresher.walking ? 'in progress' : 'not run';
      return { ok: false, detail: `the VM list is not loaded (last walk: ${why})`, latencyMs };
    }
    const tokenFile = this.#tokenFile?.state();
    if (tokenFile && !tokenFile.ok) {
      return { ok: false, detail: `the token file cannot be written (${tokenFile.lastError ?? 'unknown'})`, latencyMs };
    }
    const failing = this.#cache.failing().length;
    return failing > 0 ? { ok: true, latencyMs, detail: `${failing} enterprise(s) could not be read` } : { ok: true, latencyMs };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#refresher.close();
    this.#schedule.close();
    await this.#stream?.stop();
    await this.#client.close();
  }

  // ---- extras --------------------------------------------------------------------------------

  tokenFileText(): string {
    return renderTokenFile(this.#cache.vms());
  }

  /**
   * Summary for the `upstreams` query: with events on, `connected` is the event stream's; without, the last
   * walk's. `registrations` lists the Outbound API `action` filter subscribed to.
   */
  async state(): Promise<UpstreamStateRecord> {
    const stream = this.#stream?.state();
    const lastWalk = this.#refresher.lastWalk;
    return {
      connected: stream ? stream.connected : this.#refresher.loaded && lastWalk.ok,
      lastEventAt: this.#lastEventAt === null ? null : new Date(this.#lastEventAt).toISOString(),
      registrations: this.#stream ? [...this.#actions] : [],
      lastError: stream?.lastError ?? lastWalk.error?.code ?? (this.#tokenFile?.state().ok === false ? 'token file not writable' : null),
    };
  }

  cacheState(): AbiquoCacheState {
    const entries = this.#cache.entries();
    const lastWalk = this.#refresher.lastWalk;
    return {
      loaded: this.#refresher.loaded,
      enterprises: entries.length,
      vms: entries.reduce((n, e) => n + e.vms.length, 0),
      lastWalk: {
        ok: lastWalk.ok,
        at: lastWalk.at === null ? null : new Date(lastWalk.at).toISOString(),
        errorCode: lastWalk.error?.code ?? null,
      },
      enterpriseErrors: this.#cache
        .failing()
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
    return this.#refresher.resync();
  }

  refreshEnterprise(enterpriseId: number): Promise<void> {
    return this.#refresher.refreshEnterprise(enterpriseId);
  }

  // ---- wiring --------------------------------------------------------------------------------

  async #changed(update: AbiquoCacheUpdate): Promise<void> {
    if (this.#closed) return;
    await this.#tokenFile?.sync(this.#cache.vms());
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch (err) {
        this.#deps.logger.error({ err }, 'abiquo cache listener threw');
      }
    }
  }

  #onEvent(event: AbiquoEvent): void {
    if (this.#closed) return;
    const now = this.#deps.clock.now();
    this.#lastEventAt = now;
    const enterpriseId = event.enterpriseId ?? (event.vmId !== null ? this.#cache.enterpriseOfVm(event.vmId) : null);
    try {
      this.#deps.events.publish(toGatewayEvent(this.name, event, enterpriseId, now));
    } catch (err) {
      this.#deps.logger.error({ err }, 'publishing an abiquo event failed');
    }
    if (isVmEvent(event)) this.#schedule.vmChanged(enterpriseId);
  }
}
