/**
 * The gateway's domain layer: VM listings across providers, console access, readiness. GraphQL
 * resolvers are thin wrappers over this; so are the CLI and tests.
 */
import { BadUserInputError, ConsoleUnavailableError, GatewayError, NotFoundError, isGatewayError } from './errors.js';
import { decodeCursor, encodeCursor } from './paging.js';
import { EventBus } from './events/bus.js';
import type { ConsoleAccessRecord, ConsoleMode, Provider, ReadyStatus, Upstream, VmFilter, VmRecord } from './upstreams/types.js';
import { formatVmId, parseVmId } from './vm-id.js';
import { allowsProvider, assertProviderAllowed, type Principal } from './auth/principal.js';

export const MAX_PAGE_SIZE = 500;

/** Mints gateway console URLs (GATEWAY mode); present once the console endpoint is mounted. */
export interface ConsoleUrlMinter {
  mint(req: { vmId: string; provider: string; upstreamId: string; caller: string }): Promise<ConsoleAccessRecord>;
}

export interface VmEdgeRecord {
  cursor: string;
  node: VmRecord;
}

export interface VmConnectionRecord {
  edges: VmEdgeRecord[];
  hasNextPage: boolean;
  /** Providers (or parts of one) that could not be listed; reported as GraphQL errors beside the data. */
  failures: GatewayError[];
}

export interface ListVmsArgs {
  provider?: string | null;
  filter?: VmFilter | null;
  first?: number | null;
  after?: string | null;
}

export class Gateway {
  /** Upstreams with VMs. Replaced as a whole by `replaceUpstreams` (config reload). */
  providers: ReadonlyMap<string, Provider>;
  /** Every configured upstream (VM providers and event-only sources), in config order. Replaced as a whole by `replaceUpstreams`. */
  upstreams: ReadonlyMap<string, Upstream>;
  /** The one event stream subscriptions read from. */
  readonly events: EventBus;
  consoleUrls: ConsoleUrlMinter | null = null;

  constructor(upstreams: { all: ReadonlyMap<string, Upstream>; providers: ReadonlyMap<string, Provider> }, events = new EventBus()) {
    this.upstreams = upstreams.all;
    this.providers = upstreams.providers;
    this.events = events;
  }

  /**
   * Config reload: from now on every call sees `next`. Calls already running keep the upstream they
   * had; the caller closes the upstreams that are not in `next` once the swap is done.
   */
  replaceUpstreams(next: { all: ReadonlyMap<string, Upstream>; providers: ReadonlyMap<string, Provider> }): void {
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

    const edges: VmEdgeRecord[] = [];
    const failures: GatewayError[] = [];
    let hasNextPage = false;
    for (let i = start; i < order.length; i++) {
      const provider = order[i]!;
      const offset = i === start ? skip : 0;
      const remaining = first - edges.length;
      let page;
      try {
        // With nothing left to fill, ask for one record only to learn whether a next page exists.
        page = await provider.listVms({ filter: args.filter ?? {}, skip: offset, first: Math.max(remaining, 1) });
      } catch (err) {
        // Asked for one provider: its failure is the answer. Across providers: list the others and report it.
        if (order.length === 1 || !isGatewayError(err)) throw err;
        failures.push(err);
        continue;
      }
      failures.push(...(page.warnings ?? []));
      const taken = page.vms.slice(0, remaining);
      taken.forEach((vm, j) => edges.push({ cursor: encodeCursor({ p: provider.name, o: offset + j }), node: vm }));
      if (page.vms.length > taken.length || (edges.length === first && page.hasMore)) {
        hasNextPage = true;
        break;
      }
    }
    return { edges, hasNextPage, failures };
  }

  /** `principal`: a VM of a provider it may not use is FORBIDDEN; absent = any (internal callers). */
  async getVm(id: string, principal?: Principal): Promise<VmRecord> {
    const { provider, upstreamId } = parseVmId(id);
    if (principal) assertProviderAllowed(principal, provider);
    const p = this.provider(provider);
    p.parseUpstreamId(upstreamId);
    const vm = await p.getVm(upstreamId);
    if (!vm) throw new NotFoundError(`VM "${formatVmId(provider, upstreamId)}" does not exist`, { provider });
    return vm;
  }

  /** FORBIDDEN unless `caller` may use the VM's provider; GATEWAY tickets record `caller.id`. */
  async consoleAccess(vmId: string, mode: ConsoleMode | null | undefined, caller: Principal): Promise<ConsoleAccessRecord> {
    const { provider: providerName, upstreamId } = parseVmId(vmId);
    assertProviderAllowed(caller, providerName);
    const provider = this.provider(providerName);
    provider.parseUpstreamId(upstreamId);
    const chosen = mode ?? provider.defaultConsoleMode;
    if (chosen === 'GATEWAY') {
      if (!this.consoleUrls) throw new ConsoleUnavailableError('GATEWAY console mode is not available on this gateway', { mode: chosen });
      // Mint only for VMs that exist and have a console: a ticket for nothing would fail later, with a worse error.
      await this.getVm(vmId);
      await provider.assertConsoleAvailable?.(upstreamId);
      return this.consoleUrls.mint({ vmId: formatVmId(providerName, upstreamId), provider: providerName, upstreamId, caller: caller.id });
    }
    if (!provider.upstreamConsoleUrl) {
      throw new ConsoleUnavailableError(`provider "${providerName}" offers only GATEWAY consoles`, { provider: providerName, mode: chosen });
    }
    return provider.upstreamConsoleUrl(upstreamId, chosen);
  }

  /** Each upstream's readiness, checked in parallel. */
  async readiness(): Promise<{ ok: boolean; upstreams: Record<string, ReadyStatus & { kind: string }> }> {
    const entries = await Promise.all(
      [...this.upstreams.values()].map(async (p) => {
        const status = await p.checkReady().catch((): ReadyStatus => ({ ok: false, detail: 'readiness check failed' }));
        return [p.name, { kind: p.kind, ...status }] as const;
      }),
    );
    return { ok: entries.every(([, s]) => s.ok), upstreams: Object.fromEntries(entries) };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.upstreams.values()].map((p) => p.close()));
    this.events.close();
  }
}
