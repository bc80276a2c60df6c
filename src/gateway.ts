/**
 * The gateway's domain layer: VM listings across providers, console access, events, readiness.
 * GraphQL resolvers are thin wrappers over this; so are the CLI and tests. Every question a caller
 * asks is narrowed here to the providers its principal may use, so no resolver repeats that check.
 */
import { BadUserInputError, ConsoleUnavailableError, GatewayError, NotFoundError, isGatewayError } from './errors.js';
import { ForbiddenError } from './auth/errors.js';
import { decodeCursor, encodeCursor } from './paging.js';
import { EventBus, type EventSubscription, type SubscribeFilter } from './events/bus.js';
import type { ConsoleAccessRecord, ConsoleMode, ConsoleTarget, Provider, ReadyStatus, Upstream, VmFilter, VmRecord } from './upstreams/types.js';
import { formatVmId, parseVmId, type VmRef } from './vm-id.js';
import { allowsProvider, assertProviderAllowed, hasPermission, type Principal } from './auth/principal.js';
import type { ConsoleSessionInfo, SessionQuery, TerminateResult } from './console/session-directory.js';
import { publishConsoleSession } from './events/gateway-events.js';
import { ConsoleCloseCode, closeReason } from './websocket-codes.js';

export const MAX_PAGE_SIZE = 500;

/**
 * VM statuses with no console to open: nothing runs a VNC server for them (a powered-off or
 * undeployed VM has no QEMU/hypervisor process; a deleted one is gone). SUSPENDED keeps its console:
 * CloudTower's suspend and Abiquo's PAUSED pause the guest but the hypervisor process, and its VNC
 * server, stay up (the frozen screen is shown). LOCKED and UNKNOWN are let through: the upstream
 * decides.
 */
const NO_CONSOLE_STATUSES: ReadonlySet<VmRecord['status']> = new Set(['STOPPED', 'NOT_DEPLOYED', 'DELETED']);

const ALL_CONSOLE_MODES: readonly ConsoleMode[] = ['GATEWAY', 'DIRECT', 'UPSTREAM'];
const GATEWAY_ONLY: readonly ConsoleMode[] = ['GATEWAY'];

/**
 * Mints gateway console URLs (GATEWAY mode). Gets the VM already resolved, so the ticket carries
 * `{ provider, upstreamId }` and the console endpoint never parses the VM id again.
 */
export interface ConsoleUrlMinter {
  /** Charges the caller's minting budget (RATE_LIMITED past it), then mints a ticket URL. */
  mint(req: VmRef & { caller: string; viewOnly?: boolean }): Promise<ConsoleAccessRecord>;
  /**
   * Charges the caller's minting budget without minting a ticket: DIRECT and UPSTREAM URLs count
   * against the same per-caller limit. @throws RateLimitedError past it.
   */
  charge(caller: string): Promise<void>;
}

/** The upstream sets a Gateway serves; a config reload swaps in a new one. */
export interface GatewayUpstreams {
  /** Every configured upstream (VM providers and event-only sources), in config order. */
  all: ReadonlyMap<string, Upstream>;
  /** Upstreams with VMs. */
  providers: ReadonlyMap<string, Provider>;
}

export interface VmEdgeRecord {
  cursor: string;
  node: VmRecord;
}

export interface VmConnectionRecord {
  edges: VmEdgeRecord[];
  hasNextPage: boolean;
  /** VMs precede this page: the listing resumed after a cursor. */
  hasPreviousPage: boolean;
  /** Providers (or parts of one) that could not be listed; reported as GraphQL errors beside the data. */
  failures: GatewayError[];
}

export interface ListVmsArgs {
  provider?: string | null;
  filter?: VmFilter | null;
  first?: number | null;
  after?: string | null;
}

/** The console sessions of this replica, as the domain layer asks about them (console/session-directory.ts). */
export interface ConsoleSessionControl {
  list(query: SessionQuery): ConsoleSessionInfo[];
  terminate(sessionId: string, code: number, detail: string): TerminateResult;
}

export class Gateway {
  /** Upstreams with VMs. Replaced as a whole by `replaceUpstreams` (config reload). */
  providers: ReadonlyMap<string, Provider>;
  /** Every configured upstream (VM providers and event-only sources), in config order. Replaced as a whole by `replaceUpstreams`. */
  upstreams: ReadonlyMap<string, Upstream>;
  /** The one event stream subscriptions read from. */
  readonly events: EventBus;
  /** Absent: GATEWAY console mode answers CONSOLE_UNAVAILABLE. */
  readonly #consoleUrls: ConsoleUrlMinter | null;
  readonly #sessions: ConsoleSessionControl | null;

  constructor(upstreams: GatewayUpstreams, events = new EventBus(), consoleUrls: ConsoleUrlMinter | null = null, sessions: ConsoleSessionControl | null = null) {
    this.#sessions = sessions;
    this.upstreams = upstreams.all;
    this.providers = upstreams.providers;
    this.events = events;
    this.#consoleUrls = consoleUrls;
  }

  /**
   * Config reload: from now on every call sees `next`. Calls already running keep the upstream they
   * had; the caller closes the upstreams that are not in `next` once the swap is done.
   */
  replaceUpstreams(next: GatewayUpstreams): void {
    this.upstreams = next.all;
    this.providers = next.providers;
  }

  provider(name: string): Provider {
    const p = this.providers.get(name);
    if (!p) throw new NotFoundError(`no VM provider named "${name}"`, { provider: name });
    return p;
  }

  /** `principal` limits the listing to the providers it may use (asking for another one is FORBIDDEN); absent = all (internal callers). */
  async listVms(args: ListVmsArgs, principal?: Principal): Promise<VmConnectionRecord> {
    const first = args.first ?? 50;
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
      throw new BadUserInputError(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}`, { field: 'first' });
    }
    let order = [...this.providers.values()].filter((p) => !principal || allowsProvider(principal, p.name));
    if (args.provider != null) {
      if (principal) assertProviderAllowed(principal, args.provider);
      const only = this.providers.get(args.provider);
      if (!only) throw new BadUserInputError(`no provider named "${args.provider}"`, { field: 'provider' });
      order = [only];
    }
    let start = 0;
    let skip = 0;
    if (args.after != null) {
      const cursor = decodeCursor(args.after);
      start = order.findIndex((p) => p.name === cursor.p);
      if (start < 0) throw new BadUserInputError('`after` names a provider outside this listing', { field: 'after' });
      skip = cursor.o + 1;
    }

    // Every provider is asked at once, so the listing takes as long as its slowest provider (each
    // bounded by its own `timeouts.requestMs` deadline), not the sum. Each is asked for a whole page
    // (at least one record, to learn whether a next page exists); the answers are then assembled in
    // provider order exactly as a one-after-another walk would, so cursors are unchanged.
    const asked = order.slice(start).map((provider, k) => {
      const offset = k === 0 ? skip : 0;
      return provider.listVms({ filter: args.filter ?? {}, skip: offset, first: Math.max(first, 1) }).then(
        (page) => ({ provider, offset, page, error: null }),
        (error: unknown) => ({ provider, offset, page: null, error }),
      );
    });
    const answers = await Promise.all(asked);

    const edges: VmEdgeRecord[] = [];
    const failures: GatewayError[] = [];
    let hasNextPage = false;
    for (const { provider, offset, page, error } of answers) {
      if (!page) {
        // Asked for one provider: its failure is the answer. Across providers: list the others and report it.
        if (order.length === 1 || !isGatewayError(error)) throw error;
        failures.push(error);
        continue;
      }
      const remaining = first - edges.length;
      failures.push(...(page.warnings ?? []));
      const taken = page.vms.slice(0, remaining);
      taken.forEach((vm, j) => edges.push({ cursor: encodeCursor({ p: provider.name, o: offset + j }), node: vm }));
      if (page.vms.length > taken.length || (edges.length === first && page.hasMore)) {
        hasNextPage = true;
        break;
      }
    }
    return { edges, hasNextPage, hasPreviousPage: args.after != null, failures };
  }

  /**
   * The upstreams `principal` may see, in config order; absent = all (internal callers).
   * Listings filter silently: a restricted caller is not told which other providers exist.
   */
  upstreamsFor(principal?: Principal): Upstream[] {
    return [...this.upstreams.values()].filter((u) => !principal || allowsProvider(principal, u.name));
  }

  /**
   * The upstream named `name`, or undefined when none is configured. FORBIDDEN first when
   * `principal` may not use it (before existence, so a restricted caller cannot probe names).
   */
  upstreamFor(name: string, principal?: Principal): Upstream | undefined {
    if (principal) assertProviderAllowed(principal, name);
    return this.upstreams.get(name);
  }

  /**
   * Events `principal` may see. Asking for a provider it may not use is FORBIDDEN, for one not
   * configured BAD_USER_INPUT. A restricted caller that names no provider gets exactly its own
   * (the bus reads an empty list as "all", so a caller allowed none is refused instead).
   */
  /** `options.after`: resume after this event id (replay, then live); see EventBus.subscribe. */
  subscribeEvents(filter: SubscribeFilter, principal?: Principal, options: { after?: string } = {}): EventSubscription {
    const requested = filter.providers ?? [];
    // Authorization before existence, so a restricted caller cannot probe provider names.
    if (principal) for (const p of requested) assertProviderAllowed(principal, p);
    const unknown = requested.filter((p) => !this.upstreams.has(p));
    if (unknown.length > 0) throw new BadUserInputError(`no provider named ${unknown.map((p) => `"${p}"`).join(', ')}`, { field: 'providers' });
    let providers: readonly string[] | undefined = requested.length > 0 ? requested : undefined;
    if (!providers && principal && principal.providers !== null) {
      if (principal.providers.size === 0) throw new ForbiddenError('no provider is allowed for this caller');
      providers = [...principal.providers];
    }
    const { providers: _requested, ...rest } = filter;
    return this.events.subscribe(providers ? { ...rest, providers } : rest, options.after !== undefined ? { after: options.after } : {});
  }

  /**
   * This replica's live and recently ended console sessions: the caller's own, or everyone's with
   * the `consoles.admin` permission. Asking for another caller's sessions without it is FORBIDDEN.
   */
  consoleSessions(filter: Omit<SessionQuery, 'caller'> & { caller?: string | null }, principal: Principal): ConsoleSessionInfo[] {
    const admin = hasPermission(principal, 'consoles.admin');
    if (!admin && filter.caller != null && filter.caller !== principal.id) {
      throw new ForbiddenError("listing another caller's console sessions needs the consoles.admin permission", { permission: 'consoles.admin' });
    }
    const caller = admin ? (filter.caller ?? null) : principal.id;
    return this.#sessions?.list({ caller, vmId: filter.vmId ?? null, state: filter.state ?? null }) ?? [];
  }

  /**
   * End a live console session (close code 4013 to its browser) and publish
   * `consoles.terminated.<vm id>`. Needs `consoles.admin` (else FORBIDDEN). A session that has
   * already ended is NOT_FOUND with `reason: SESSION_ENDED` (and its close code); an id never seen
   * (or no longer kept) is NOT_FOUND with `reason: SESSION_UNKNOWN`.
   */
  terminateConsoleSession(sessionId: string, principal: Principal): ConsoleSessionInfo {
    if (!hasPermission(principal, 'consoles.admin')) {
      throw new ForbiddenError('terminating a console session needs the consoles.admin permission', { permission: 'consoles.admin' });
    }
    const result: TerminateResult = this.#sessions?.terminate(sessionId, ConsoleCloseCode.TerminatedByOperator, `terminated by ${principal.id}`) ?? { outcome: 'unknown' };
    if (result.outcome === 'unknown') throw new NotFoundError('no such console session', { sessionId, reason: 'SESSION_UNKNOWN' });
    if (result.outcome === 'ended') {
      throw new NotFoundError('the console session has already ended', { sessionId, reason: 'SESSION_ENDED', closeCode: result.session.closeCode });
    }
    const s = result.session;
    const vmId = s.vmId ?? 'tokenfile';
    publishConsoleSession(this.events, {
      action: 'terminated',
      provider: s.vmId === null ? 'tokenfile' : parseVmId(s.vmId).provider,
      vmId,
      caller: s.caller,
      detail: { sessionId: s.sessionId, terminatedBy: principal.id, closeCode: ConsoleCloseCode.TerminatedByOperator },
    });
    return { ...s, closeCode: ConsoleCloseCode.TerminatedByOperator, closeReason: closeReason[ConsoleCloseCode.TerminatedByOperator] };
  }

  /** `principal`: a VM of a provider it may not use is FORBIDDEN; absent = any (internal callers). */
  async getVm(id: string, principal?: Principal): Promise<VmRecord> {
    const { provider, vm } = this.#resolveVm(id, principal);
    return this.#fetchVm(provider, vm);
  }

  /**
   * FORBIDDEN unless `caller` may use the VM's provider; GATEWAY tickets record `caller.id`.
   * `options.viewOnly`: the ticket opens a view-only console (GATEWAY mode only: only the gateway
   * sits on the RFB stream to drop input).
   */
  async consoleAccess(vmId: string, mode: ConsoleMode | null | undefined, caller: Principal, options: { viewOnly?: boolean } = {}): Promise<ConsoleAccessRecord> {
    const { provider, vm } = this.#resolveVm(vmId, caller);
    const chosen = mode ?? provider.defaultConsoleMode;
    const viewOnly = options.viewOnly === true;
    if (viewOnly && chosen !== 'GATEWAY') {
      throw new BadUserInputError(`a view-only console needs GATEWAY mode, not ${chosen}: only the gateway can drop input`, { field: 'viewOnly', mode: chosen });
    }
    const allowed = provider.consoleModes ?? (provider.upstreamConsoleUrl ? ALL_CONSOLE_MODES : GATEWAY_ONLY);
    if (!allowed.includes(chosen)) {
      throw new ForbiddenError(`console mode ${chosen} is not allowed for provider "${vm.provider}": it allows ${allowed.join(', ')}`, {
        provider: vm.provider,
        mode: chosen,
        allowedModes: [...allowed],
        reason: 'CONSOLE_MODE_NOT_ALLOWED',
      });
    }
    if (chosen === 'GATEWAY') {
      if (!this.#consoleUrls) throw new ConsoleUnavailableError('GATEWAY console mode is not available on this gateway', { mode: chosen });
      // Mint only for VMs that exist and have a console: a ticket for nothing would fail later, with a worse error.
      assertCanHaveConsole(await this.#fetchVm(provider, vm), chosen);
      await provider.assertConsoleAvailable?.(vm.upstreamId);
      return this.#consoleUrls.mint({ ...vm, caller: caller.id, ...(viewOnly ? { viewOnly } : {}) });
    }
    if (!provider.upstreamConsoleUrl) {
      throw new ConsoleUnavailableError(`provider "${vm.provider}" offers only GATEWAY consoles`, { provider: vm.provider, mode: chosen });
    }
    assertCanHaveConsole(await this.#fetchVm(provider, vm), chosen);
    // Upstream console tokens are credentials too: the same per-caller budget as GATEWAY tickets.
    await this.#consoleUrls?.charge(caller.id);
    return provider.upstreamConsoleUrl(vm.upstreamId, chosen);
  }

  /**
   * Where a redeemed ticket's console is, from the provider's data now (so upstream console
   * credentials are fresh). The console endpoint reaches the gateway only through this.
   */
  consoleTarget(vm: VmRef): Promise<ConsoleTarget> {
    return this.provider(vm.provider).consoleTarget(vm.upstreamId);
  }

  /**
   * Each upstream's own health check, in parallel. Called by the background monitor behind the
   * `upstream_up` metric (observability/upstream-health.ts), never by a probe: readiness is per
   * process and does not depend on upstreams.
   */
  async upstreamHealth(): Promise<{ ok: boolean; upstreams: Record<string, ReadyStatus & { kind: string }> }> {
    const entries = await Promise.all(
      [...this.upstreams.values()].map(async (p) => {
        const status = await p.checkReady().catch((): ReadyStatus => ({ ok: false, detail: 'readiness check failed' }));
        return [p.name, { kind: p.kind, ...status }] as const;
      }),
    );
    return { ok: entries.every(([, s]) => s.ok), upstreams: Object.fromEntries(entries) };
  }

  /** Parses a global VM id once: permission, provider and upstream id checked, in that order. */
  #resolveVm(id: string, principal?: Principal): { provider: Provider; vm: VmRef } {
    const vm = parseVmId(id);
    if (principal) assertProviderAllowed(principal, vm.provider);
    const provider = this.provider(vm.provider);
    provider.parseUpstreamId(vm.upstreamId);
    return { provider, vm };
  }

  async #fetchVm(provider: Provider, vm: VmRef): Promise<VmRecord> {
    const record = await provider.getVm(vm.upstreamId);
    if (!record) throw new NotFoundError(`VM "${formatVmId(vm.provider, vm.upstreamId)}" does not exist`, { provider: vm.provider });
    return record;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.upstreams.values()].map((p) => p.close()));
    this.events.close();
  }
}

/** CONSOLE_UNAVAILABLE, with the VM's status in `extensions`, for a VM that cannot have a console now. */
function assertCanHaveConsole(vm: VmRecord, mode: ConsoleMode): void {
  if (!NO_CONSOLE_STATUSES.has(vm.status)) return;
  throw new ConsoleUnavailableError(`VM "${formatVmId(vm.provider, vm.upstreamId)}" has no console while it is ${vm.status}`, {
    provider: vm.provider,
    mode,
    status: vm.status,
    rawStatus: vm.rawStatus,
    reason: 'VM_NOT_RUNNING',
  });
}
