/**
 * Prometheus metrics of the console proxy. Byte counters are read from the live sessions at
 * scrape time (`collect`), so the data path never touches prom-client.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { DROPPED_INPUT_TYPES, noDroppedInput, type DroppedInputCounts } from './view-only.js';

export interface LiveTotals {
  sessions: number;
  bytesToUpstream: number;
  bytesToClient: number;
  /** Input the open view-only sessions dropped so far, by kind. */
  droppedInput: DroppedInputCounts;
}

export class ConsoleMetrics {
  readonly #ticketsRedeemed: Counter;
  readonly #ticketsRefused: Counter<'reason'>;
  readonly #upgradesRefused: Counter<'reason'>;
  readonly #sessionsClosed: Counter<'code'>;
  readonly #duration: Histogram;
  /** Bytes of sessions that have ended; live sessions are added at scrape time. */
  #endedToUpstream = 0;
  #endedToClient = 0;
  /** Input dropped by view-only sessions that have ended; live sessions are added at scrape time. */
  readonly #endedDropped: DroppedInputCounts = noDroppedInput();

  constructor(registry: Registry, live: () => LiveTotals) {
    const registers = [registry];
    new Gauge({
      name: 'console_sessions_active',
      help: 'Console WebSocket sessions open now (connecting or piping).',
      registers,
      collect() {
        this.set(live().sessions);
      },
    });
    const ended = (): { up: number; down: number } => ({ up: this.#endedToUpstream, down: this.#endedToClient });
    new Counter({
      name: 'console_bytes_total',
      help: 'Console bytes proxied, by direction (client_to_upstream, upstream_to_client).',
      labelNames: ['direction'],
      registers,
      collect() {
        const now = live();
        const done = ended();
        this.reset();
        this.inc({ direction: 'client_to_upstream' }, done.up + now.bytesToUpstream);
        this.inc({ direction: 'upstream_to_client' }, done.down + now.bytesToClient);
      },
    });
    const endedDropped = this.#endedDropped;
    new Counter({
      name: 'console_view_only_input_dropped_total',
      help: 'Input messages view-only consoles dropped, by type (key, pointer, cut_text, qemu_key, set_desktop_size, xvp).',
      labelNames: ['type'],
      registers,
      collect() {
        const now = live().droppedInput;
        this.reset();
        for (const type of DROPPED_INPUT_TYPES) this.inc({ type }, endedDropped[type] + now[type]);
      },
    });
    this.#duration = new Histogram({
      name: 'console_session_duration_seconds',
      help: 'Duration of finished console sessions.',
      buckets: [1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600],
      registers,
    });
    this.#ticketsRedeemed = new Counter({
      name: 'console_tickets_redeemed_total',
      help: 'Console tickets accepted on a WebSocket upgrade.',
      registers,
    });
    this.#ticketsRefused = new Counter({
      name: 'console_tickets_refused_total',
      help: 'Console tickets refused on a WebSocket upgrade, by reason (TICKET_* code).',
      labelNames: ['reason'],
      registers,
    });
    this.#upgradesRefused = new Counter({
      name: 'console_upgrades_refused_total',
      help: 'Console upgrades refused for reasons other than a ticket, by reason code.',
      labelNames: ['reason'],
      registers,
    });
    this.#sessionsClosed = new Counter({
      name: 'console_sessions_closed_total',
      help: 'Finished console sessions, by WebSocket close code.',
      labelNames: ['code'],
      registers,
    });
  }

  ticketRedeemed(): void {
    this.#ticketsRedeemed.inc();
  }

  ticketRefused(reason: string): void {
    this.#ticketsRefused.inc({ reason });
  }

  upgradeRefused(reason: string): void {
    this.#upgradesRefused.inc({ reason });
  }

  sessionEnded(s: { durationMs: number; bytesToUpstream: number; bytesToClient: number; closeCode: number; droppedInput: DroppedInputCounts | null }): void {
    this.#endedToUpstream += s.bytesToUpstream;
    this.#endedToClient += s.bytesToClient;
    if (s.droppedInput) for (const type of DROPPED_INPUT_TYPES) this.#endedDropped[type] += s.droppedInput[type];
    this.#duration.observe(s.durationMs / 1000);
    this.#sessionsClosed.inc({ code: String(s.closeCode) });
  }
}
