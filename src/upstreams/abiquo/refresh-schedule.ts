/**
 * When the Abiquo cache is re-read: a full walk every `resyncIntervalMs` after the last one (catching
 * anything events missed), and after a VM event a refresh of just its enterprise, debounced by
 * `refreshDebounceMs` so a burst of events (DEPLOY, DEPLOY_FINISH...) shares one read.
 */
import type { AbiquoProviderConfig } from '../../config.js';
import type { Clock } from '../../clock.js';
import { KeyedDebounce, TimerSlot } from '../shared/timers.js';
import type { AbiquoVmCache } from './cache.js';
import type { AbiquoRefresher } from './refresh.js';

export class AbiquoRefreshSchedule {
  readonly #refresher: AbiquoRefresher;
  readonly #cache: AbiquoVmCache;
  readonly #resyncIntervalMs: number;
  readonly #resync: TimerSlot;
  readonly #enterprises: KeyedDebounce<number>;
  readonly #enterpriseList: TimerSlot;
  readonly #debounceMs: number;
  #closed = false;

  constructor(
    config: Pick<AbiquoProviderConfig, 'refreshDebounceMs' | 'resyncIntervalMs'>,
    refresher: AbiquoRefresher,
    cache: AbiquoVmCache,
    clock: Clock,
  ) {
    this.#refresher = refresher;
    this.#cache = cache;
    this.#resyncIntervalMs = config.resyncIntervalMs;
    this.#debounceMs = config.refreshDebounceMs;
    this.#resync = new TimerSlot(clock);
    this.#enterprises = new KeyedDebounce(clock, config.refreshDebounceMs);
    this.#enterpriseList = new TimerSlot(clock);
  }

  /** A walk ended: the next periodic one is due an interval from now (0 turns them off). */
  walked(): void {
    if (this.#resyncIntervalMs <= 0 || this.#closed) return;
    this.#resync.set(this.#resyncIntervalMs, () => void this.#refresher.resync());
  }

  /** A VM changed upstream, in this enterprise (null when the event did not say and the cache does not know). */
  vmChanged(enterpriseId: number | null): void {
    if (this.#closed) return;
    if (!this.#refresher.loaded) {
      // The walk in progress (or the next one) will see the change.
      void this.#refresher.resync();
    } else if (enterpriseId !== null && this.#cache.get(enterpriseId)) {
      this.#enterprises.schedule(enterpriseId, () => void this.#refresher.refreshEnterprise(enterpriseId));
    } else {
      this.#enterpriseList.setIfIdle(this.#debounceMs, () => void this.#refresher.refreshEnterpriseList());
    }
  }

  close(): void {
    this.#closed = true;
    this.#resync.clear();
    this.#enterprises.clear();
    this.#enterpriseList.clear();
  }
}
