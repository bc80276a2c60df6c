/**
 * Config reload for a running gateway: a new validated config swapped in without dropping live
 * consoles. Providers whose config changed (or that are new) are started, the gateway switches to
 * them, and only then are the replaced ones closed; auth, limits and the log level apply to the
 * next request; `recording.*` to the next console (live ones keep their recorder). What a running
 * gateway cannot take (`server.*`, `console.*`, the graphql-ws timers) is reported as needing a restart.
 */
import { isDeepStrictEqual } from 'node:util';
import type { GatewayAccess } from './auth/access.js';
import type { GatewayConfig } from './config.js';
import type { Gateway, GatewayUpstreams } from './gateway.js';
import type { Logger } from './logger.js';
import type { Provider, Upstream } from './upstreams/types.js';
import type { RecordingService } from './recording/recorder.js';

/** What a reload changed. */
export interface ReloadReport {
  /** Providers created (new names, or a changed config under an existing name). */
  started: string[];
  /** Providers closed (removed, or replaced by a changed config). */
  stopped: string[];
  /** Changed config keys that take effect only after a restart. */
  needsRestart: string[];
}

export type ReloadListener = (next: GatewayConfig, previous: GatewayConfig) => void;

export interface ConfigReloaderOptions {
  gateway: Gateway;
  /** Auth keys, JWT settings, allowed origins and per-caller caps; updated in place. */
  access: GatewayAccess;
  /** The limits object the HTTP server reads on every request; new values are assigned into it. */
  liveLimits: GatewayConfig['limits'];
  /** Takes the `recording` section for consoles opened after the reload. @default none */
  recordings?: RecordingService;
  logger: Logger;
  /** Builds the upstreams of a config (only the changed providers are passed). */
  createUpstreams: (config: GatewayConfig) => GatewayUpstreams;
  /** Whether an upstream lists VMs (its kind's descriptor says). */
  isProvider: (upstream: Upstream) => upstream is Provider;
}

export class ConfigReloader {
  #current: GatewayConfig;
  readonly #options: ConfigReloaderOptions;
  readonly #listeners = new Set<ReloadListener>();
  /** One reload at a time: a second SIGHUP waits for the first. */
  #reloading: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(initial: GatewayConfig, options: ConfigReloaderOptions) {
    this.#current = initial;
    this.#options = options;
  }

  /** The config in force (the latest one a reload accepted). */
  get current(): GatewayConfig {
    return this.#current;
  }

  /**
   * Swap in `next`. Throws, keeping the old config, when a new provider or the new auth settings
   * cannot be built, or once `stop` was called.
   */
  reload(next: GatewayConfig): Promise<ReloadReport> {
    const attempt = this.#reloading.then(() => this.#swap(next));
    this.#reloading = attempt.catch(() => undefined);
    return attempt;
  }

  /** Called after each accepted reload. Returns a function that removes it. */
  onReload(listener: ReloadListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The gateway is shutting down: later reloads are refused. */
  stop(): void {
    this.#stopped = true;
  }

  async #swap(next: GatewayConfig): Promise<ReloadReport> {
    if (this.#stopped) throw new Error('the gateway is shutting down');
    const { gateway, access, logger } = this.#options;
    const previous = this.#current;
    const before = gateway.upstreams;
    const unchanged = (name: string): Upstream | undefined => {
      const was = previous.providers.find((p) => p.name === name);
      const now = next.providers.find((p) => p.name === name);
      return was && now && isDeepStrictEqual(was, now) ? before.get(name) : undefined;
    };
    const changed = next.providers.filter((p) => !unchanged(p.name));
    const created = this.#options.createUpstreams({ ...next, providers: changed });
    let applyRecording: (() => void) | undefined;
    try {
      // Each throws and changes nothing: a new recording directory that cannot be created, auth
      // settings that cannot be built. The recording section is applied only once both passed.
      applyRecording = this.#options.recordings?.prepareReload(next.recording);
      access.update(next);
    } catch (err) {
      await Promise.allSettled([...created.all.values()].map((u) => u.close()));
      throw err;
    }
    const all = new Map<string, Upstream>();
    const providers = new Map<string, Provider>();
    for (const pc of next.providers) {
      const upstream = unchanged(pc.name) ?? created.all.get(pc.name)!;
      all.set(pc.name, upstream);
      if (this.#options.isProvider(upstream)) providers.set(pc.name, upstream);
    }
    gateway.replaceUpstreams({ all, providers });
    Object.assign(this.#options.liveLimits, next.limits);
    applyRecording?.();
    logger.level = next.log.level;
    this.#current = next;
    const retired = [...before].filter(([name, u]) => all.get(name) !== u);
    // After the swap: live console sessions hold their own upstream sockets, so closing a provider does not end them.
    await Promise.allSettled(retired.map(([, u]) => u.close()));
    for (const listener of this.#listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        logger.error({ err }, 'reload listener failed');
      }
    }
    return {
      started: changed.map((p) => p.name),
      stopped: retired.map(([name]) => name),
      needsRestart: restartOnlyChanges(previous, next),
    };
  }
}

/** Keys of `server` a reload applies (through GatewayAccess.update). */
const LIVE_SERVER_KEYS = new Set(['allowedOrigins', 'allowedHosts']);

/** Config keys a reload cannot apply to a running gateway. */
export function restartOnlyChanges(previous: GatewayConfig, next: GatewayConfig): string[] {
  const keys: string[] = [];
  for (const section of ['server', 'console'] as const) {
    const was = previous[section] as Record<string, unknown>;
    const now = next[section] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
      if (section === 'server' && LIVE_SERVER_KEYS.has(key)) continue;
      if (!isDeepStrictEqual(was[key], now[key])) keys.push(`${section}.${key}`);
    }
  }
  for (const key of ['wsConnectionInitTimeoutMs', 'wsKeepAliveMs'] as const) {
    if (previous.limits[key] !== next.limits[key]) keys.push(`limits.${key}`);
  }
  // The fleet's store is connected once, before everything built on it.
  if (!isDeepStrictEqual(previous.redis, next.redis)) keys.push('redis');
  return keys;
}
