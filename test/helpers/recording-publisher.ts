/** The one recording `EventPublisher`: keeps every published event and lets a test await them. */
import type { EventPublisher, GatewayEventInput } from '../../src/events/types.js';

export class RecordingPublisher implements EventPublisher {
  readonly events: GatewayEventInput[] = [];
  #waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  publish(event: GatewayEventInput): void {
    this.events.push(event);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  #until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ check, resolve }));
  }

  /** The first event matching `pred`, published already or later. */
  async waitFor(pred: (e: GatewayEventInput) => boolean): Promise<GatewayEventInput> {
    await this.#until(() => this.events.some(pred));
    return this.events.find(pred)!;
  }

  /** Resolves once at least `count` events have been published. */
  waitForCount(count: number): Promise<void> {
    return this.#until(() => this.events.length >= count);
  }
}
