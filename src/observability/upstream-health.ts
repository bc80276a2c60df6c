/**
 * Upstream health in the background: every `server.upstreamCheckIntervalSeconds`, each upstream's
 * own check (`Gateway.upstreamHealth`) feeds the `upstream_up` gauge. Readiness no longer depends
 * on upstreams (one upstream down must not take every replica out of a Service), and no probe or
 * scrape ever calls an upstream itself. Per-upstream detail is in the authenticated `upstreams`
 * query.
 */
import type { Clock } from '../clock.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from './metrics.js';

export class UpstreamHealthMonitor {
  readonly #clock: Clock;
  readonly #down = new Set<string>();
  #timer: unknown = null;
  #stopped = false;

  /** Checks every `intervalMs()` after the previous check ended (read each time). */
  constructor(options: { gateway: Gateway; metrics: GatewayMetrics; logger: Logger; clock: Clock; intervalMs: () => number }) {
    const { gateway, metrics, logger } = options;
    this.#clock = options.clock;
    const check = async (): Promise<void> => {
      const { upstreams } = await gateway.upstreamHealth();
      if (this.#stopped) return;
      metrics.upstreamHealth(upstreams);
      // Logged once per transition, never once per check.
      for (const [name, s] of Object.entries(upstreams)) {
        if (!s.ok && !this.#down.has(name)) {
          this.#down.add(name);
          logger.warn({ upstream: name, kind: s.kind, detail: s.detail }, 'upstream health check failing');
        } else if (s.ok && this.#down.delete(name)) {
          logger.info({ upstream: name, kind: s.kind }, 'upstream health check passing again');
        }
      }
    };
    const loop = (): void => {
      void check()
        .catch((err: unknown) => logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'upstream health check failed'))
        .finally(() => {
          if (!this.#stopped) this.#timer = this.#clock.setTimeout(loop, options.intervalMs());
        });
    };
    // The first check waits one interval too: start-up already talks to every upstream, and the
    // gauge is absent (not 0) until an upstream has been checked.
    this.#timer = this.#clock.setTimeout(loop, options.intervalMs());
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
  }
}
