/**
 * Where console tickets live between minting and redemption. Keys are SHA-256 hashes of the
 * ticket, never the ticket itself, so a store dump (or a shared Redis) cannot be replayed.
 */

/** What a ticket grants; safe to log (no ticket value in it). */
export interface TicketRecord {
  /** Provider of the VM the ticket opens a console for. */
  provider: string;
  /** That provider's id for the VM, as validated when the ticket was minted. */
  upstreamId: string;
  /** Global VM id (`provider:upstreamId`), for logs and for matching a VM-scoped mount; never parsed again. */
  vmId: string;
  /** Who minted it (the authenticated GraphQL caller), for the audit line. */
  caller: string;
  /** A view-only console: the session drops the browser's input. Absent: interactive. */
  viewOnly?: boolean;
  /** The id the console session opened with this ticket will have (`ConsoleAccess.sessionId`); absent in tickets minted before it existed. */
  sessionId?: string;
  /** A short, non-secret id for correlating logs: a prefix of the ticket's hash. */
  ticketId: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface StoredTicket {
  record: TicketRecord;
  expiresAtMs: number;
  /** Set once a consuming `take` has seen it: a tombstone that tells "used" apart from "unknown". */
  used: boolean;
}

export interface TicketStore {
  /** Store a new ticket under its hash until `expiresAtMs` (epoch ms). */
  put(hash: string, record: TicketRecord, expiresAtMs: number): Promise<void>;
  /**
   * Look a ticket up. With `consume`, mark it used atomically and return what it was *before*
   * (so the first taker sees `used: false` and every later one `used: true`). null when unknown
   * (never minted, or swept after expiry).
   */
  take(hash: string, opts: { consume: boolean }): Promise<StoredTicket | null>;
  /** Release resources (timers, connections). */
  close(): Promise<void>;
}

export interface MemoryTicketStoreOptions {
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
  /**
   * How long expired tickets and used tombstones are kept after expiry, so a late redemption is
   * reported as expired/used rather than unknown. Milliseconds. @default 60_000
   */
  retainAfterExpiryMs?: number;
  /** Minimum time between sweeps of expired entries, milliseconds. @default 5_000 */
  sweepIntervalMs?: number;
}

/**
 * In-process store. No timers at all: expired entries are swept lazily, at most once per
 * `sweepIntervalMs`, on `put`, so memory stays proportional to the minting rate times the
 * ticket lifetime. Single-process only: behind a load balancer use a shared store.
 */
export class MemoryTicketStore implements TicketStore {
  readonly #entries = new Map<string, StoredTicket>();
  readonly #now: () => number;
  readonly #retainMs: number;
  readonly #sweepIntervalMs: number;
  #lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryTicketStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#retainMs = options.retainAfterExpiryMs ?? 60_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
  }

  /** Entries held, tombstones included (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  async put(hash: string, record: TicketRecord, expiresAtMs: number): Promise<void> {
    const now = this.#now();
    if (now - this.#lastSweepMs >= this.#sweepIntervalMs) this.sweep(now);
    this.#entries.set(hash, { record, expiresAtMs, used: false });
  }

  async take(hash: string, opts: { consume: boolean }): Promise<StoredTicket | null> {
    const entry = this.#entries.get(hash);
    if (!entry) return null;
    const before = { ...entry };
    if (opts.consume) entry.used = true;
    return before;
  }

  /** Drop entries whose retention ended. Public so a host can also drive it on its own schedule. */
  sweep(now = this.#now()): void {
    this.#lastSweepMs = now;
    // Insertion order is expiry order when the TTL is constant, so the scan can stop at the first
    // live entry; a TTL change or clock step only delays some removals to a later sweep.
    for (const [hash, entry] of this.#entries) {
      if (entry.expiresAtMs + this.#retainMs > now) break;
      this.#entries.delete(hash);
    }
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}
