/**
 * Console tickets: short-lived bearer capabilities that open one VM's console.
 *
 * The GraphQL `consoleUrl` resolver mints one for an authenticated caller; the browser presents it
 * on the WebSocket upgrade, where no Authorization header can be sent. Because a ticket ends up
 * in a URL (or a subprotocol header), it is kept weak on purpose: 256 random bits, seconds of
 * life, single use by default, bound to one VM, and stored only as a SHA-256 hash.
 *
 * The ticket value never appears in an error message or a log line; refusals carry only a code.
 */
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { ErrorCode, GatewayError } from '../errors.js';
import { UpgradeRefusal } from '../websocket-codes.js';
import { MemoryTicketStore } from './ticket-store.js';
import type { TicketRecord, TicketStore } from './ticket-store.js';
import { formatVmId, type VmRef } from '../vm-id.js';

export type { TicketRecord, TicketStore, StoredTicket } from './ticket-store.js';

/** Random bytes per ticket: 256 bits, well over the 128-bit floor for unguessable bearer secrets. */
const TICKET_BYTES = 32;
/** base64url of 32 bytes, unpadded. */
const TICKET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Why a ticket was refused; each is also an upgrade refusal (src/websocket-codes.ts) with its HTTP status. */
export const TicketErrorCode = {
  Missing: ErrorCode.TicketMissing,
  Malformed: ErrorCode.TicketMalformed,
  Unknown: ErrorCode.TicketUnknown,
  Expired: ErrorCode.TicketExpired,
  Used: ErrorCode.TicketUsed,
  WrongVm: ErrorCode.TicketWrongVm,
} as const;
export type TicketErrorCode = (typeof TicketErrorCode)[keyof typeof TicketErrorCode];

/** HTTP status for a refused upgrade, from the refusal catalogue. */
export const ticketErrorStatus: Record<TicketErrorCode, 401 | 403> = {
  [TicketErrorCode.Missing]: UpgradeRefusal.TicketMissing.status,
  [TicketErrorCode.Malformed]: UpgradeRefusal.TicketMalformed.status,
  [TicketErrorCode.Unknown]: UpgradeRefusal.TicketUnknown.status,
  [TicketErrorCode.Expired]: UpgradeRefusal.TicketExpired.status,
  [TicketErrorCode.Used]: UpgradeRefusal.TicketUsed.status,
  [TicketErrorCode.WrongVm]: UpgradeRefusal.TicketWrongVm.status,
};

/**
 * A refused ticket. Internal to GraphQL (it never reaches it): the WebSocket upgrade answers with
 * `status` and the code. The message names the code only.
 */
export class TicketError extends GatewayError {
  declare readonly code: TicketErrorCode;
  readonly status: 401 | 403;
  /** Set when the ticket was genuine (expired, used, wrong VM): safe to log. */
  readonly ticketId: string | null;
  constructor(code: TicketErrorCode, ticketId: string | null = null) {
    super(code, `console ticket refused: ${code}`);
    this.status = ticketErrorStatus[code];
    this.ticketId = ticketId;
  }
}

export function isTicketError(err: unknown): err is TicketError {
  return err instanceof TicketError;
}

export interface TicketServiceOptions {
  /** Where tickets are kept. @default a MemoryTicketStore using `now` */
  store?: TicketStore;
  /** Ticket lifetime, milliseconds. Long enough for a browser to open the URL it was handed. @default 30_000 */
  ttlMs?: number;
  /**
   * Allow a ticket to be redeemed any number of times until it expires (so noVNC's automatic
   * reconnect works). Off by default: a single-use ticket that leaks through a log or a Referer
   * is worthless once the browser has used it. @default false
   */
  reusable?: boolean;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
  /** Source of randomness. @default crypto.randomBytes */
  randomBytes?: (size: number) => Buffer;
}

/** The VM, already resolved (parsed and checked) by the domain layer, and who asks. */
export interface MintRequest extends VmRef {
  /** The authenticated caller, recorded for the audit line. */
  caller: string;
  /** The console drops the browser's input (view-only observer). @default false */
  viewOnly?: boolean;
}

export interface MintedTicket {
  ticket: string;
  /** The id the session opened with this ticket will have: not secret, it opens nothing. */
  sessionId: string;
  expiresAt: Date;
}

export class TicketService {
  readonly #store: TicketStore;
  readonly #ttlMs: number;
  readonly #reusable: boolean;
  readonly #now: () => number;
  readonly #randomBytes: (size: number) => Buffer;

  constructor(options: TicketServiceOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#reusable = options.reusable ?? false;
    this.#randomBytes = options.randomBytes ?? cryptoRandomBytes;
    this.#store = options.store ?? new MemoryTicketStore({ now: this.#now, retainAfterExpiryMs: Math.max(this.#ttlMs, 60_000) });
    if (!(this.#ttlMs > 0)) throw new RangeError('ticket ttlMs must be positive');
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  get reusable(): boolean {
    return this.#reusable;
  }

  async mint(req: MintRequest): Promise<MintedTicket> {
    const bytes = this.#randomBytes(TICKET_BYTES);
    if (bytes.length !== TICKET_BYTES) throw new RangeError(`randomBytes returned ${bytes.length} bytes, want ${TICKET_BYTES}`);
    const ticket = bytes.toString('base64url');
    const hash = hashTicket(ticket);
    const issuedAtMs = this.#now();
    // Its own randomness, not the injected source: a session id must not be derivable from the ticket.
    const sessionId = cryptoRandomBytes(12).toString('base64url');
    const expiresAtMs = issuedAtMs + this.#ttlMs;
    const record: TicketRecord = {
      provider: req.provider,
      upstreamId: req.upstreamId,
      vmId: formatVmId(req.provider, req.upstreamId),
      caller: req.caller,
      ...(req.viewOnly ? { viewOnly: true } : {}),
      sessionId,
      ticketId: ticketIdOf(hash),
      issuedAt: new Date(issuedAtMs),
      expiresAt: new Date(expiresAtMs),
    };
    await this.#store.put(hash, record, expiresAtMs);
    return { ticket, sessionId, expiresAt: record.expiresAt };
  }

  /**
   * Check a presented ticket and, unless tickets are reusable, use it up. `vmId`, when given,
   * must match the VM the ticket was minted for; a mismatch still uses the ticket up (fail closed:
   * a ticket shown for the wrong VM has leaked or been tampered with).
   */
  async redeem(ticket: string | null | undefined, opts: { vmId?: string } = {}): Promise<TicketRecord> {
    if (ticket === undefined || ticket === null || ticket === '') throw new TicketError(TicketErrorCode.Missing);
    if (!TICKET_PATTERN.test(ticket)) throw new TicketError(TicketErrorCode.Malformed);
    // Lookup by hash: a timing difference in the map lookup says something about hashes, which
    // gives no help in guessing a 256-bit ticket.
    const hash = hashTicket(ticket);
    const stored = await this.#store.take(hash, { consume: !this.#reusable });
    if (!stored) throw new TicketError(TicketErrorCode.Unknown);
    const id = stored.record.ticketId;
    if (this.#now() >= stored.expiresAtMs) throw new TicketError(TicketErrorCode.Expired, id);
    if (stored.used) throw new TicketError(TicketErrorCode.Used, id);
    if (opts.vmId !== undefined && opts.vmId !== stored.record.vmId) throw new TicketError(TicketErrorCode.WrongVm, id);
    return stored.record;
  }

  async close(): Promise<void> {
    await this.#store.close();
  }
}

function hashTicket(ticket: string): string {
  return createHash('sha256').update(ticket, 'utf8').digest('hex');
}

/** 48 bits of the hash: enough to correlate log lines, useless for finding the ticket. */
function ticketIdOf(hash: string): string {
  return hash.slice(0, 12);
}
