/** An EventBus that counts what is published, by source, for `events_published_total`. */
import { EventBus, type EventBusOptions } from '../events/bus.js';
import type { GatewayEvent, GatewayEventInput } from '../events/types.js';

export class CountingEventBus extends EventBus {
  constructor(
    options: EventBusOptions,
    private readonly onPublish: (source: string) => void,
  ) {
    super(options);
  }

  override publish(input: GatewayEventInput): GatewayEvent {
    const event = super.publish(input);
    this.onPublish(event.source);
    return event;
  }
}
