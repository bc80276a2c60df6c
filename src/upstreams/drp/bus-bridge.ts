/**
 * Keeps a DRP client's registrations in step with the bus's subscribers: each subscriber that can
 * receive this provider's DRP events holds a registration for its pattern (all events when it has
 * none), so DRP only sends what somebody reads.
 */
import type { EventBus, SubscribeFilter } from '../../events/bus.js';
import { ALL_EVENTS, type EventPattern } from '../../events/pattern.js';
import type { DrpEventClient } from './client.js';

/** Install before subscribers arrive (subscriptions made earlier are not counted). Returns an uninstaller. */
export function bridgeBusToDrp(
  bus: Pick<EventBus, 'onSubscribe' | 'onUnsubscribe'>,
  client: Pick<DrpEventClient, 'name' | 'acquire' | 'release'>,
  onAcquireError: (err: unknown) => void = () => {},
): () => void {
  const held = new Map<number, EventPattern>();
  const stopSubscribe = bus.onSubscribe((info) => {
    if (!wantsProvider(info.filter, client.name)) return;
    const pattern = info.filter.pattern ?? ALL_EVENTS;
    held.set(info.id, pattern);
    // A failed acquire still holds the registration (it is retried on reconnect): only report it.
    client.acquire(pattern).catch(onAcquireError);
  });
  const stopUnsubscribe = bus.onUnsubscribe((info) => {
    const pattern = held.get(info.id);
    if (!pattern) return;
    held.delete(info.id);
    void client.release(pattern);
  });
  return () => {
    stopSubscribe();
    stopUnsubscribe();
    for (const pattern of held.values()) void client.release(pattern);
    held.clear();
  };
}

function wantsProvider(filter: SubscribeFilter, provider: string): boolean {
  const sourceOk = !filter.sources || filter.sources.length === 0 || filter.sources.includes('DRP');
  const providerOk = !filter.providers || filter.providers.length === 0 || filter.providers.includes(provider);
  return sourceOk && providerOk;
}
