/** DRP's PascalCase events -> the gateway's normalised event. */
import type { GatewayEventInput } from '../../events/types.js';
import type { DrpEvent } from './wire.js';

/**
 * DRP stamps RFC 3339 times with nanoseconds; the gateway's events carry millisecond ISO-8601 like
 * every other source. An absent or unparsable Time falls back to the gateway's clock.
 */
export function normaliseDrpEvent(provider: string, event: DrpEvent, nowMs: number): GatewayEventInput {
  const stamped = event.Time ? Date.parse(event.Time) : Number.NaN;
  return {
    source: 'DRP',
    provider,
    time: new Date(Number.isNaN(stamped) ? nowMs : stamped).toISOString(),
    type: event.Type,
    action: event.Action,
    key: event.Key,
    principal: event.Principal === '' ? null : event.Principal,
    object: event.Object ?? null,
    original: event.Original ?? null,
  };
}
