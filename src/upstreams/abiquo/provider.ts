/**
 * The Abiquo provider: a facade over the VM cache (cache.ts), filled by a full walk at start and after
 * every event stream (re)connect, since the Outbound API has no replay (refresh.ts), and kept fresh by
 * events (stream.ts, event-mapping.ts, refresh-schedule.ts). Each change of the cache rewrites the
 * websockify token file when one is configured (token-file-sync.ts). walker.ts holds all of that.
 *
 * In a fleet (`deps.fleet`), only the holder of the provider's lease runs a walker (leadership.ts) and
 * publishes the index to Redis, fenced by its token (src/fleet/abiquo-index.ts); the other replicas
 * answer `vms`, `vm` and consoles from that index, read through on each request.
 */
import type { AbiquoProviderConfig } from '../../config.js';
import { ConsoleUnavailableError, GatewayError, NotFoundError, UpstreamResponseError, UpstreamUnavailableError, type ErrorCode } from '../../errors.js';
import { AbiquoIndexReader, abiquoLeaseKey, publishAbiquoIndex, type AbiquoIndexEntry, type AbiquoIndexSnapshot } from '../../fleet/abiquo-index.js';
import { LeaseLostError, RedisLease } from '../../fleet/lease.js';
import { StoreUnavailableError, type Fleet } from '../../fleet/redis.js';
import type { PublishingUpstreamDeps } from '../descriptor.js';
import { loadTls } from '../shared/tls.js';
import type { ConsoleTarget, Provider, ReadyStatus, TlsOptions, UpstreamStateRecord, VmListPage, VmListRequest, VmRecord } from '../types.js';
import { AbiquoVmCache } from './cache.js';
import { AbiquoClient } from './client.js';
import { AbiquoLeadership } from './leadership.js';
import { vdrpTarget } from './model.js';
import { matchesFilter, parseUpstreamId, toVmRecord } from './records.js';
import type { AbiquoCacheUpdate } from './refresh.js';
import type { AbiquoEventStreamState } from './stream.js';
import { renderTokenFile, type TokenFileState } from './token-file.js';
import { AbiquoWalker } from './walker.js';

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
  /** In a fleet: this replica's role and the published index it serves (the leader's freshness); null without one. */
  fleet: {
    role: 'leader' | 'follower';
    /** The leader's fencing token while this replica leads. */
    token: number | null;
    /** The index last published (leader) or read (follower). */
    index: { version: number; leader: string; publishedAt: string } | null;
  } | null;
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

  readonly #config: AbiquoProviderConfig;
  readonly #deps: PublishingUpstreamDeps;
  readonly #overrides: AbiquoTestOverrides;
  readonly #tls: TlsOptions;
  readonly #client: AbiquoClient;
  readonly #listeners = new Set<(u: AbiquoCacheUpdate) => void>();
  readonly #fleet: Fleet | null;
  readonly #lease: RedisLease | null = null;
  readonly #leadership: AbiquoLeadership | null = null;
  readonly #reader: AbiquoIndexReader | null = null;
  /** The walker: for the provider's whole life without a fleet; in a fleet, only while this replica leads. */
  #walker: AbiquoWalker | null = null;
  /** In a fleet: the index this replica published last while leading. */
  #published: { version: number; leader: string; publishedAt: string } | null = null;
  /** In a fleet, as a follower: the shared index as a cache, rebuilt when its version moves. */
  #follower: { version: number; cache: AbiquoVmCache } | null = null;
  #closed = false;

  constructor(config: AbiquoProviderConfig, deps: PublishingUpstreamDeps, overrides: AbiquoTestOverrides) {
    this.name = config.name;
    this.#config = config;
    this.#deps = deps;
    this.#overrides = overrides;
    this.#tls = loadTls(config.tls);
    this.#client = new AbiquoClient(config, this.#tls, deps.logger);
    this.#fleet = deps.fleet ?? null;
    if (!this.#fleet) {
      this.#walker = this.#newWalker(null);
      this.#walker.start();
      return;
    }
    this.#lease = new RedisLease(this.#fleet.redis, { key: abiquoLeaseKey(config.name), holder: this.#fleet.replicaId, ttlMs: config.leader.leaseTtlMs });
    this.#reader = new AbiquoIndexReader(this.#fleet.redis, config.name);
    this.#leadership = new AbiquoLeadership({
      lease: this.#lease,
      leaseTtlMs: config.leader.leaseTtlMs,
      renewIntervalMs: config.leader.renewIntervalMs,
      clock: deps.clock,
      logger: deps.logger,
      elected: (token) => this.#lead(token),
      deposed: () => this.#follow(),
    });
    this.#leadership.start();
  }

  // ---- Provider ------------------------------------------------------------------------------

  parseUpstreamId(upstreamId: string): void {
    parseUpstreamId(upstreamId);
  }

  async listVms(req: VmListRequest): Promise<VmListPage> {
    const cache = await this.#view();
    const all = cache.records().filter((r) => matchesFilter(r, req.filter));
    const skip = Math.max(0, req.skip);
    const first = Math.max(0, req.first);
    // An enterprise that failed its last read is listed with what we had (if anything) and named in a warning.
    const warnings = cache.failing().map(
      (e) =>
        new UpstreamResponseError(this.name, `enterprise ${e.enterprise.id} ("${e.enterprise.name}") could not be listed: ${e.error!.code}`, {
          enterpriseId: e.enterprise.id,
        }),
    );
    return { vms: all.slice(skip, skip + first), hasMore: all.length > skip + first, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  async getVm(upstreamId: string): Promise<VmRecord | null> {
    const { enterpriseId, vmId } = parseUpstreamId(upstreamId);
    const cache = await this.#view();
    const entry = cache.get(enterpriseId);
    const vm = entry?.vms.find((v) => v.id === vmId);
    return entry && vm ? toVmRecord(this.name, entry.enterprise, vm) : null;
  }

  /** Answered from the cache (or the fleet's index): no upstream call. */
  async assertConsoleAvailable(upstreamId: string): Promise<void> {
    await this.consoleTarget(upstreamId);
  }

  async consoleTarget(upstreamId: string): Promise<ConsoleTarget> {
    const { enterpriseId, vmId } = parseUpstreamId(upstreamId);
    const cache = await this.#view();
    const vm = cache.get(enterpriseId)?.vms.find((v) => v.id === vmId);
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
    const walker = this.#walker;
    if (!walker) {
      const snapshot = await this.#snapshot().catch(() => null);
      if (!snapshot) return { ok: false, detail: 'the fleet leader has not published the VM list yet', latencyMs };
      if (!snapshot.meta.lastWalk.ok) return { ok: false, detail: `the leader's last walk failed (${snapshot.meta.lastWalk.errorCode ?? 'unknown'})`, latencyMs };
      return { ok: true, latencyMs };
    }
    const lastWalk = walker.refresher.lastWalk;
    if (!walker.refresher.loaded || !lastWalk.ok) {
      const why = lastWalk.error ? lastWalk.error.code : walker.refresher.walking ? 'in progress' : 'not run';
      return { ok: false, detail: `the VM list is not loaded (last walk: ${why})`, latencyMs };
    }
    const tokenFile = walker.tokenFile?.state();
    if (tokenFile && !tokenFile.ok) {
      return { ok: false, detail: `the token file cannot be written (${tokenFile.lastError ?? 'unknown'})`, latencyMs };
    }
    const failing = walker.cache.failing().length;
    return failing > 0 ? { ok: true, latencyMs, detail: `${failing} enterprise(s) could not be read` } : { ok: true, latencyMs };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const walker = this.#walker;
    this.#walker = null;
    await walker?.close();
    // After the walker: nothing is published once the lease is released for a successor.
    await this.#leadership?.close();
    await this.#client.close();
  }

  // ---- extras --------------------------------------------------------------------------------

  tokenFileText(): string {
    return renderTokenFile((this.#walker?.cache ?? this.#follower?.cache)?.vms() ?? []);
  }

  /**
   * Summary for the `upstreams` query: with events on, `connected` is the event stream's; without, the last
   * walk's. `registrations` lists the Outbound API `action` filter subscribed to. A follower in a fleet
   * shows the leader's, as published with the index.
   */
  async state(): Promise<UpstreamStateRecord> {
    const registrations = this.#config.events.enabled ? [...this.#config.events.actions] : [];
    const walker = this.#walker;
    if (!walker) {
      const meta = (await this.#snapshot().catch(() => this.#reader?.last ?? null))?.meta;
      if (!meta) return { connected: false, lastEventAt: null, registrations, lastError: 'no leader has published the VM list yet' };
      return { connected: meta.streamConnected ?? meta.lastWalk.ok, lastEventAt: meta.lastEventAt, registrations, lastError: meta.lastWalk.errorCode };
    }
    const stream = walker.stream?.state();
    const lastWalk = walker.refresher.lastWalk;
    return {
      connected: stream ? stream.connected : walker.refresher.loaded && lastWalk.ok,
      lastEventAt: walker.lastEventAt === null ? null : new Date(walker.lastEventAt).toISOString(),
      registrations,
      lastError: stream?.lastError ?? lastWalk.error?.code ?? (walker.tokenFile?.state().ok === false ? 'token file not writable' : null),
    };
  }

  cacheState(): AbiquoCacheState {
    const walker = this.#walker;
    const cache = walker?.cache ?? this.#follower?.cache ?? new AbiquoVmCache(this.name);
    const entries = cache.entries();
    const last = this.#reader?.last ?? null;
    const lastWalk = walker
      ? (({ ok, at, error }) => ({ ok, at: at === null ? null : new Date(at).toISOString(), errorCode: error?.code ?? null }))(walker.refresher.lastWalk)
      : (last?.meta.lastWalk ?? { ok: false, at: null, errorCode: null });
    const token = this.#leadership?.token ?? null;
    return {
      loaded: walker ? walker.refresher.loaded : last !== null,
      enterprises: entries.length,
      vms: entries.reduce((n, e) => n + e.vms.length, 0),
      lastWalk,
      enterpriseErrors: cache
        .failing()
        .map((e) => ({ enterpriseId: e.enterprise.id, code: e.error!.code }))
        .sort((a, b) => a.enterpriseId - b.enterpriseId),
      stream: walker?.stream?.state() ?? null,
      tokenFile: walker?.tokenFile?.state() ?? null,
      fleet: this.#fleet
        ? {
            role: walker ? 'leader' : 'follower',
            token,
            index: walker ? this.#published : last && { version: last.version, leader: last.meta.leader, publishedAt: last.meta.publishedAt },
          }
        : null,
    };
  }

  onUpdate(listener: (update: AbiquoCacheUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Only the walker's replica walks; a follower has nothing to resync. */
  resync(): Promise<void> {
    return this.#walker?.refresher.resync() ?? Promise.resolve();
  }

  refreshEnterprise(enterpriseId: number): Promise<void> {
    return this.#walker?.refresher.refreshEnterprise(enterpriseId) ?? Promise.resolve();
  }

  // ---- wiring --------------------------------------------------------------------------------

  #newWalker(token: number | null): AbiquoWalker {
    return new AbiquoWalker(this.#config, this.#client, this.#tls, this.#deps, {
      changed: (update) => this.#notify(update),
      ...(token !== null ? { publish: (walker: AbiquoWalker) => this.#publish(walker, token) } : {}),
      ...(this.#overrides.random ? { random: this.#overrides.random } : {}),
    });
  }

  /** Elected: walk from scratch (the previous leader's stream had no replay for us either). */
  #lead(token: number): void {
    if (this.#closed) return;
    void this.#walker?.close();
    this.#walker = this.#newWalker(token);
    this.#walker.start();
  }

  /** Deposed: stop the walk, the stream and the token file at once; serve the shared index from now on. */
  #follow(): void {
    const walker = this.#walker;
    this.#walker = null;
    void walker?.close();
  }

  /** The fenced write of the index; false (nothing else of the change happens) when it was refused or could not be made. */
  async #publish(walker: AbiquoWalker, token: number): Promise<boolean> {
    if (walker.closed || !this.#lease || !this.#fleet) return false;
    const lastWalk = walker.refresher.lastWalk;
    const publishedAt = new Date(this.#deps.clock.now()).toISOString();
    const meta = {
      leader: this.#fleet.replicaId,
      token,
      publishedAt,
      lastWalk: { ok: lastWalk.ok, at: lastWalk.at === null ? null : new Date(lastWalk.at).toISOString(), errorCode: lastWalk.error?.code ?? null },
      streamConnected: walker.stream ? walker.stream.state().connected : null,
      lastEventAt: walker.lastEventAt === null ? null : new Date(walker.lastEventAt).toISOString(),
    };
    const entries: AbiquoIndexEntry[] = walker.cache
      .entries()
      .map((e) => ({ enterprise: e.enterprise, vms: e.vms, error: e.error ? { code: e.error.code, message: e.error.message } : null }));
    try {
      const version = await publishAbiquoIndex(this.#lease, token, this.name, meta, entries);
      this.#published = { version, leader: meta.leader, publishedAt };
      return true;
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.#deps.logger.warn({ token }, 'abiquo leader: the index write was refused by the fencing token');
        this.#leadership?.fenced(token);
      } else {
        // The change stays unpublished (and off the token file) until the next one; the lease renewal decides who leads.
        this.#deps.logger.warn({ code: err instanceof GatewayError ? err.code : 'STORE_UNAVAILABLE' }, 'abiquo leader: the index could not be published');
      }
      return false;
    }
  }

  #notify(update: AbiquoCacheUpdate): void {
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch (err) {
        this.#deps.logger.error({ err }, 'abiquo cache listener threw');
      }
    }
  }

  /** The published index (read through), or the last one read when Redis cannot answer now. */
  async #snapshot(): Promise<AbiquoIndexSnapshot | null> {
    const reader = this.#reader!;
    try {
      return await reader.read();
    } catch (err) {
      if (reader.last) return reader.last;
      throw new StoreUnavailableError("the fleet's Abiquo index could not be read", { cause: err });
    }
  }

  /** What reads answer from: the walker's cache, or (a follower in a fleet) the shared index. */
  async #view(): Promise<AbiquoVmCache> {
    const walker = this.#walker;
    if (walker && (walker.refresher.loaded || !this.#reader)) {
      await walker.refresher.ensureLoaded();
      return walker.cache;
    }
    // A leader just elected answers from its predecessor's index until its own first walk is done.
    const snapshot = await this.#snapshot().catch((err: unknown) => {
      if (walker) return null;
      throw err;
    });
    if (!snapshot && walker) {
      await walker.refresher.ensureLoaded();
      return walker.cache;
    }
    if (!snapshot) throw new UpstreamUnavailableError(this.name, 'the fleet leader has not published the VM list yet');
    if (this.#follower?.version === snapshot.version) return this.#follower.cache;
    const cache = new AbiquoVmCache(this.name);
    const seq = cache.nextSeq();
    for (const entry of snapshot.entries) {
      cache.applyVms(entry.enterprise, seq, entry.vms);
      if (entry.error) cache.applyError(entry.enterprise, seq, new GatewayError(entry.error.code as ErrorCode, entry.error.message));
    }
    this.#follower = { version: snapshot.version, cache };
    return cache;
  }
}
