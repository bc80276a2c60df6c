/**
 * DRP as a configured upstream: an event-only source. Its registrations follow the bus's subscribers
 * (bus-bridge.ts); its connection changes are published by the client like every streaming upstream's.
 */
import type { DrpProviderConfig } from '../../config.js';
import type { UpstreamDeps } from '../descriptor.js';
import { loadTls } from '../shared/tls.js';
import type { ReadyStatus, Upstream, UpstreamStateRecord } from '../types.js';
import { bridgeBusToDrp } from './bus-bridge.js';
import { DrpEventClient } from './client.js';

export class DrpEventSource implements Upstream {
  readonly kind = 'drp' as const;
  readonly name: string;
  readonly client: DrpEventClient;
  private readonly unbridge: () => void;

  /** Registrations follow `deps.events`' subscribers. */
  constructor(config: DrpProviderConfig, deps: UpstreamDeps) {
    this.name = config.name;
    this.client = new DrpEventClient(config, loadTls(config.tls), deps);
    this.unbridge = bridgeBusToDrp(deps.events, this.client, (err) =>
      deps.logger.warn({ reason: err instanceof Error ? err.message : 'unknown' }, 'DRP registration not acknowledged yet'),
    );
    this.client.start();
  }

  async checkReady(): Promise<ReadyStatus> {
    const state = this.client.state();
    return state.connected ? { ok: true } : { ok: false, detail: state.lastError ?? 'not connected yet' };
  }

  async state(): Promise<UpstreamStateRecord> {
    const { connected, lastEventAt, registrations, lastError } = this.client.state();
    return { connected, lastEventAt, registrations, lastError };
  }

  close(): Promise<void> {
    this.unbridge();
    return this.client.close();
  }
}
