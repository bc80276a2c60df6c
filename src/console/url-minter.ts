/**
 * GATEWAY-mode console URLs: a ticket for an already resolved VM, under the caller's minting
 * budget, pointing at the gateway's own console path. The Gateway (domain layer) receives this in
 * its constructor; it knows nothing of the console endpoint that later redeems the ticket.
 */
import { RateLimitedError } from '../auth/errors.js';
import { ANONYMOUS } from '../auth/principal.js';
import { KeyedTokenBucket, type TicketBudget, type TokenBucketLimits } from '../auth/token-bucket.js';
import { systemClock, type Clock } from '../clock.js';
import type { ConsoleUrlMinter } from '../gateway.js';
import type { ConsoleAccessRecord } from '../upstreams/types.js';
import type { VmRef } from '../vm-id.js';
import type { TicketService } from './tickets.js';
import { BINARY_SUBPROTOCOL } from './upgrade-request.js';

/** Where the console endpoint is mounted on the gateway's HTTP server. */
export const CONSOLE_PATH = '/websockify';

/** ws(s) base of console URLs: the configured public URL, else where the server listens. */
export function consoleBaseUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export interface TicketUrlMinterOptions {
  tickets: TicketService;
  /**
   * The gateway's URL as browsers see it. Read at each mint, not at construction: the minter is
   * built before the server listens, and the port may be known only then.
   */
  publicUrl: () => string;
  /** Per-caller minting budget; read at each mint, so a reload applies at once. */
  limits: () => TokenBucketLimits;
  /** Where the per-caller budget is counted (a fleet shares one in Redis). @default a KeyedTokenBucket in this process */
  budget?: TicketBudget;
  /** Clock for the minting budget. @default systemClock */
  clock?: Clock;
  /** Called after each ticket minted (metrics). @default none */
  onMinted?: () => void;
}

export class TicketUrlMinter implements ConsoleUrlMinter {
  readonly #tickets: TicketService;
  readonly #publicUrl: () => string;
  readonly #limits: () => TokenBucketLimits;
  readonly #budget: TicketBudget;
  readonly #onMinted: (() => void) | undefined;

  constructor(options: TicketUrlMinterOptions) {
    this.#tickets = options.tickets;
    this.#publicUrl = options.publicUrl;
    this.#limits = options.limits;
    const clock = options.clock ?? systemClock;
    this.#budget = options.budget ?? new KeyedTokenBucket({ limits: options.limits, now: () => clock.now() });
    this.#onMinted = options.onMinted;
  }

  async charge(caller: string): Promise<void> {
    // Anonymous callers (auth.mode none) are everyone at once; a per-caller budget would throttle them all together.
    const budget = caller === ANONYMOUS.id ? ({ ok: true } as const) : await this.#budget.take(caller);
    if (!budget.ok) {
      const { perMinute, burst } = this.#limits();
      throw new RateLimitedError(`too many console tickets: at most ${burst} at once and ${perMinute} a minute per caller`, Math.max(1, Math.ceil(budget.retryAfterMs / 1000)));
    }
  }

  async mint(req: VmRef & { caller: string; viewOnly?: boolean }): Promise<ConsoleAccessRecord> {
    await this.charge(req.caller);
    const { ticket, sessionId, expiresAt } = await this.#tickets.mint(req);
    this.#onMinted?.();
    return {
      url: `${consoleBaseUrl(this.#publicUrl())}${CONSOLE_PATH}?ticket=${ticket}`,
      mode: 'GATEWAY',
      protocols: [BINARY_SUBPROTOCOL],
      expiresAt: expiresAt.toISOString(),
      sessionId,
    };
  }
}
