/**
 * DRP as a configured upstream: an event-only source. Its registrations follow the bus's subscribers
 * (bus-bridge.ts), and its connection changes are published as GATEWAY events.
 */
import { readFileSync } from 'node:fs';
import type { DrpProviderConfig } from '../../config.js';
import type { EventBus } from '../../events/bus.js';
import type { Logger } from '../../logger.js';
import type { ReadyStatus, Upstream, UpstreamStateRecord } from '../types.js';
import { bridgeBusToDrp } from './bus-bridge.js';
import { DrpEventClient } from './client.js';
import { publishUpstreamChange } from '../../events/gateway-events.js';

export class DrpEventSource implements Upstream {
  readonly kind = 'drp' as const;
  readonly name: string;
  readonly client: DrpEventClient;
  private readonly unbridge: () => void;

  constructor(config: DrpProviderConfig, deps: { bus: EventBus; logger: Logger }) {
    this.name = config.name;
    this.client = new DrpEventClient({
      name: config.name,
      url: config.url,
      auth: config.token ? { token: config.token } : { username: config.username ?? '', password: config.password ?? '' },
      tls: { ...(config.tls.ca ? { ca: readFileSync(config.tls.ca, 'utf8') } : {}), insecure: config.tls.insecure },
      publisher: deps.bus,
      logger: deps.logger,
      onConnectionChange: (change) => publishUpstreamChange(deps.bus, { provider: change.provider, kind: 'drp', connected: change.connected, error: change.error }),
    });
    this.unbridge = bridgeBusToDrp(deps.bus, this.client, (err) =>
      deps.logger.warn({ provider: config.name, reason: err instanceof Error ? err.message : 'unknown' }, 'DRP registration not acknowledged yet'),
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

  async close(): Promise<void> {
    this.unbridge();
    await this.client.close();
  }
}
