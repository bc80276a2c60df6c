/**
 * Reading Abiquo into the cache: full walks (coalesced: a resync asked for during a walk runs one
 * more walk after it, never two at once), one enterprise's VMs, and the enterprise list. Every read
 * reports what changed through `onChange`; failures are recorded and logged, never thrown.
 */
import { GatewayError, UpstreamResponseError, UpstreamUnavailableError } from '../../errors.js';
import type { UpstreamDeps } from '../descriptor.js';
import type { AbiquoVmCache } from './cache.js';
import type { AbiquoClient } from './client.js';
import type { AbiquoEnterprise } from './model.js';

/** What changed in the cache; observers (tests, metrics) learn of it through the provider's onUpdate(). */
export type AbiquoCacheUpdate =
  | { kind: 'walk'; ok: boolean }
  | { kind: 'enterprise'; enterpriseId: number; ok: boolean }
  | { kind: 'enterprise-list'; ok: boolean };

export interface WalkOutcome {
  ok: boolean;
  /** Epoch ms of the last walk's end, or null before the first. */
  at: number | null;
  error: GatewayError | null;
}

export class AbiquoRefresher {
  readonly #name: string;
  readonly #client: AbiquoClient;
  readonly #cache: AbiquoVmCache;
  readonly #deps: Pick<UpstreamDeps, 'logger' | 'clock'>;
  readonly #onChange: (update: AbiquoCacheUpdate) => Promise<void>;
  #walking: Promise<void> | null = null;
  #walkAgain = false;
  #loaded = false;
  #lastWalk: WalkOutcome = { ok: false, at: null, error: null };
  #closed = false;
  /** Called after every walk, successful or not (the resync schedule restarts from there). */
  onWalked: () => void = () => {};

  constructor(
    name: string,
    client: AbiquoClient,
    cache: AbiquoVmCache,
    deps: Pick<UpstreamDeps, 'logger' | 'clock'>,
    onChange: (update: AbiquoCacheUpdate) => Promise<void>,
  ) {
    this.#name = name;
    this.#client = client;
    this.#cache = cache;
    this.#deps = deps;
    this.#onChange = onChange;
  }

  /** A full walk has succeeded at least once. */
  get loaded(): boolean {
    return this.#loaded;
  }

  get walking(): boolean {
    return this.#walking !== null;
  }

  get lastWalk(): WalkOutcome {
    return { ...this.#lastWalk };
  }

  close(): void {
    this.#closed = true;
  }

  /** Resolves once the cache has been filled, or rejects with why the walk failed. */
  async ensureLoaded(): Promise<void> {
    if (this.#loaded) return;
    await (this.#walking ?? this.resync());
    if (this.#loaded) return;
    throw this.#lastWalk.error ?? new UpstreamUnavailableError(this.#name, 'the VM list has not been read yet');
  }

  /** Run a full walk now (coalesced with one in progress). Never rejects. */
  resync(): Promise<void> {
    if (this.#walking) {
      this.#walkAgain = true;
      return this.#walking;
    }
    this.#walking = this.#walkLoop();
    return this.#walking;
  }

  /** Re-read one enterprise's VMs; an enterprise we do not know means the list needs reading. Never rejects. */
  async refreshEnterprise(enterpriseId: number): Promise<void> {
    const entry = this.#cache.get(enterpriseId);
    if (!entry) return this.refreshEnterpriseList();
    const ok = await this.#readEnterprise(entry.enterprise, this.#cache.nextSeq());
    await this.#changed({ kind: 'enterprise', enterpriseId, ok });
  }

  /** Re-read the enterprise list: drop enterprises that are gone, read the VMs of new ones. Never rejects. */
  async refreshEnterpriseList(): Promise<void> {
    const seq = this.#cache.nextSeq();
    let ok = true;
    try {
      const enterprises = await this.#client.listEnterprises();
      if (this.#closed) return;
      const fresh = this.#cache.applyEnterpriseList(enterprises, seq);
      const results = await Promise.all(fresh.map((e) => this.#readEnterprise(e, seq)));
      ok = results.every(Boolean);
    } catch (err) {
      ok = false;
      const code = err instanceof GatewayError ? err.code : 'INTERNAL_SERVER_ERROR';
      this.#deps.logger.warn({ code }, 'abiquo enterprise list could not be read');
    }
    await this.#changed({ kind: 'enterprise-list', ok });
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
    const seq = this.#cache.nextSeq();
    let ok = false;
    try {
      const result = await this.#client.walk();
      if (this.#closed) return;
      for (const { enterpriseId, error } of this.#cache.applyWalk(result, seq)) {
        this.#deps.logger.warn({ enterpriseId, code: error.code, reason: error.message }, 'abiquo enterprise could not be read');
      }
      this.#loaded = true;
      this.#lastWalk = { ok: true, at: this.#deps.clock.now(), error: null };
      ok = true;
    } catch (err) {
      const error = err instanceof GatewayError ? err : new UpstreamResponseError(this.#name, 'the walk failed unexpectedly', {}, { cause: err });
      this.#lastWalk = { ok: false, at: this.#deps.clock.now(), error };
      this.#deps.logger.warn({ code: error.code, reason: error.message }, 'abiquo walk failed');
    }
    this.onWalked();
    await this.#changed({ kind: 'walk', ok });
  }

  /** Read one enterprise's VMs into the cache; false when it failed (recorded on the entry). */
  async #readEnterprise(enterprise: AbiquoEnterprise, seq: number): Promise<boolean> {
    try {
      const vms = await this.#client.listEnterpriseVms(enterprise);
      if (!this.#closed) this.#cache.applyVms(enterprise, seq, vms);
      return true;
    } catch (err) {
      const error = err instanceof GatewayError ? err : new UpstreamResponseError(this.#name, 'unexpected failure', {}, { cause: err });
      if (this.#closed || !this.#cache.applyError(enterprise, seq, error)) return false;
      this.#deps.logger.warn({ enterpriseId: enterprise.id, code: error.code, reason: error.message }, 'abiquo enterprise could not be read');
      return false;
    }
  }

  async #changed(update: AbiquoCacheUpdate): Promise<void> {
    if (!this.#closed) await this.#onChange(update);
  }
}
