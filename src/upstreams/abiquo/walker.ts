/**
 * What reads Abiquo for one provider: the VM cache (cache.ts) filled by full walks (refresh.ts) and
 * kept fresh by the Outbound API stream (stream.ts, refresh-schedule.ts), and the websockify token
 * file (token-file-sync.ts). Without a fleet the provider runs one for its whole life; in a fleet only
 * the leader runs one (leadership.ts), and a deposed leader closes its walker at once. Every change
 * first passes `publish` (the fleet's fenced write): when that refuses, nothing else of the change
 * happens (no token file write, no listener).
 */
import type { AbiquoProviderConfig } from '../../config.js';
import type { PublishingUpstreamDeps } from '../descriptor.js';
import type { TlsOptions } from '../types.js';
import { AbiquoVmCache } from './cache.js';
import type { AbiquoClient } from './client.js';
import type { AbiquoEvent } from './events.js';
import { isVmEvent, toGatewayEvent } from './event-mapping.js';
import { AbiquoRefreshSchedule } from './refresh-schedule.js';
import { AbiquoRefresher, type AbiquoCacheUpdate } from './refresh.js';
import { AbiquoEventStream } from './stream.js';
import { TokenFileSync } from './token-file-sync.js';

export interface AbiquoWalkerHooks {
  /** Before a change leaves this process; false stops it there (the lease is lost). @default always true */
  publish?: (walker: AbiquoWalker, update: AbiquoCacheUpdate) => Promise<boolean>;
  /** After a change was published and the token file written. */
  changed: (update: AbiquoCacheUpdate) => void;
  /** `random` pins the stream's backoff jitter in tests. */
  random?: () => number;
}

export class AbiquoWalker {
  readonly cache: AbiquoVmCache;
  readonly refresher: AbiquoRefresher;
  readonly stream: AbiquoEventStream | null;
  readonly tokenFile: TokenFileSync | null;
  readonly #schedule: AbiquoRefreshSchedule;
  readonly #deps: PublishingUpstreamDeps;
  readonly #hooks: AbiquoWalkerHooks;
  readonly #name: string;
  #closed = false;
  #lastEventAt: number | null = null;

  constructor(config: AbiquoProviderConfig, client: AbiquoClient, tls: TlsOptions, deps: PublishingUpstreamDeps, hooks: AbiquoWalkerHooks) {
    this.#name = config.name;
    this.#deps = deps;
    this.#hooks = hooks;
    this.cache = new AbiquoVmCache(config.name);
    this.tokenFile = config.tokenFile ? new TokenFileSync(config.tokenFile.path, deps.logger) : null;
    this.refresher = new AbiquoRefresher(config.name, client, this.cache, deps, (u) => this.#changed(u));
    this.#schedule = new AbiquoRefreshSchedule(config, this.refresher, this.cache, deps.clock);
    this.refresher.onWalked = () => this.#schedule.walked();
    this.stream = config.events.enabled
      ? new AbiquoEventStream(
          config,
          tls,
          deps,
          {
            onEvent: (e) => this.#onEvent(e),
            // No replay on the stream: whatever happened while it was down is only seen by a full walk.
            onConnected: () => void this.refresher.resync(),
          },
          hooks.random,
        )
      : null;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get lastEventAt(): number | null {
    return this.#lastEventAt;
  }

  /** The first full walk and the event stream. */
  start(): void {
    void this.refresher.resync();
    this.stream?.start();
  }

  /** Stops walking, streaming and writing; a walk in flight stores nothing after this. */
  async close(): Promise<void> {
    this.#closed = true;
    this.refresher.close();
    this.#schedule.close();
    await this.stream?.stop();
  }

  async #changed(update: AbiquoCacheUpdate): Promise<void> {
    if (this.#closed) return;
    if (this.#hooks.publish && !(await this.#hooks.publish(this, update))) return;
    if (this.#closed) return;
    await this.tokenFile?.sync(this.cache.vms());
    this.#hooks.changed(update);
  }

  #onEvent(event: AbiquoEvent): void {
    if (this.#closed) return;
    const now = this.#deps.clock.now();
    this.#lastEventAt = now;
    const enterpriseId = event.enterpriseId ?? (event.vmId !== null ? this.cache.enterpriseOfVm(event.vmId) : null);
    try {
      this.#deps.events.publish(toGatewayEvent(this.#name, event, enterpriseId, now));
    } catch (err) {
      this.#deps.logger.error({ err }, 'publishing an abiquo event failed');
    }
    if (isVmEvent(event)) this.#schedule.vmChanged(enterpriseId);
  }
}
