import type { GatewayError } from '../errors.js';

/**
 * The contract every upstream provider implements. Adding a provider kind means one folder under
 * src/upstreams/ exporting a descriptor (descriptor.ts), and one line in src/upstreams/kinds.ts.
 */

export type { ProviderKind } from './kinds.js';

/** Normalised VM state; the raw upstream value is kept beside it in VmRecord.rawStatus. */
export type VmStatus = 'RUNNING' | 'STOPPED' | 'SUSPENDED' | 'NOT_DEPLOYED' | 'LOCKED' | 'DELETED' | 'UNKNOWN';

export type ConsoleMode = 'GATEWAY' | 'DIRECT' | 'UPSTREAM';

export interface VmRecord {
  /** Provider name from config (the first part of the global id). */
  provider: string;
  /** The provider's kind (`cloudtower`, or a kind a test registered). */
  providerKind: string;
  /** The id as the upstream knows it; the global id is `${provider}:${upstreamId}`. */
  upstreamId: string;
  name: string;
  /** Upstream display name where it differs from `name` (Abiquo `label`). */
  label?: string | null;
  status: VmStatus;
  rawStatus: string;
  cluster?: { id: string; name: string } | null;
  host?: { id: string; name: string; ip?: string | null } | null;
  enterprise?: { id: string; name: string } | null;
  vcpu?: number | null;
  memoryBytes?: number | null;
}

/** Filters every provider understands; each provider pushes them down to its upstream where it can. */
export interface VmFilter {
  name?: string | null;
  nameContains?: string | null;
  nameStartsWith?: string | null;
  status?: VmStatus[] | null;
  cluster?: string | null;
}

export interface VmListRequest {
  filter?: VmFilter;
  /** Records to skip (offset paging, as CloudTower's `skip`). */
  skip: number;
  /** Maximum records to return. */
  first: number;
}

export interface VmListPage {
  vms: VmRecord[];
  /** True when the upstream has records after this page. */
  hasMore: boolean;
  /** Parts of the upstream that could not be listed (one Abiquo enterprise); reported beside the data. */
  warnings?: GatewayError[];
}

/**
 * Where the gateway's console proxy connects for a VM. Always computed by the gateway from its own
 * provider data: never from client input.
 */
export type ConsoleTarget =
  | {
      kind: 'websocket';
      /** Full ws(s) URL of the upstream websockify, query included. Contains secrets: never log it. */
      url: string;
      /** Subprotocols to offer upstream (websockify prefers `binary`). */
      protocols: string[];
      tls?: TlsOptions;
      /** Safe description for logs and audit lines, e.g. `wss://10.0.0.2:443/websockify/`. */
      describe: string;
    }
  | {
      kind: 'tcp';
      host: string;
      port: number;
      /** VNC password, if the VM's VNC server wants one; the gateway authenticates on the browser's behalf. */
      vncPassword?: string | null;
      describe: string;
    };

export interface TlsOptions {
  /** PEM text of a CA to trust (read from the configured file at start-up). */
  ca?: string;
  /** Accept any certificate (self-signed lab setups only). */
  insecure?: boolean;
}

/** A console URL that points straight at an upstream (DIRECT / UPSTREAM modes). */
export interface ConsoleAccessRecord {
  url: string;
  mode: ConsoleMode;
  protocols: string[];
  expiresAt: string | null;
  /** GATEWAY mode: the id the console session will have, for `consoleSessions`. Absent in other modes. */
  sessionId?: string | null;
}

export interface ReadyStatus {
  ok: boolean;
  /** Short, secret-free reason when not ok. */
  detail?: string;
  latencyMs?: number;
}

/** What the `upstreams` query shows for one upstream. */
export interface UpstreamStateRecord {
  /** Event streams: connected now. Request/response APIs: the last readiness check succeeded. */
  connected: boolean;
  lastEventAt: string | null;
  /** Event filters registered upstream (DRP). */
  registrations: string[];
  /** Secret-free. */
  lastError: string | null;
}

/** Anything configured under `providers`: VM providers and event-only sources (DRP) alike. */
export interface Upstream {
  readonly name: string;
  /** Its descriptor's `kind` (a ProviderKind for the built-in kinds). */
  readonly kind: string;
  checkReady(): Promise<ReadyStatus>;
  /** Connection state for the `upstreams` query; request/response upstreams may derive it from checkReady. */
  state(): Promise<UpstreamStateRecord>;
  close(): Promise<void>;
}

/** An upstream that has VMs. */
export interface Provider extends Upstream {
  /** The console mode used when a caller does not ask for one. */
  readonly defaultConsoleMode: ConsoleMode;
  /**
   * The console modes callers may ask for (config); any other is FORBIDDEN. Absent: GATEWAY, plus
   * DIRECT and UPSTREAM when the provider has `upstreamConsoleUrl`.
   */
  readonly consoleModes?: readonly ConsoleMode[];
  listVms(req: VmListRequest): Promise<VmListPage>;
  /** null when the VM does not exist upstream. */
  getVm(upstreamId: string): Promise<VmRecord | null>;
  /** URL for DIRECT / UPSTREAM modes (straight to the upstream). Throws ConsoleUnavailableError if unsupported. */
  upstreamConsoleUrl?(upstreamId: string, mode: 'DIRECT' | 'UPSTREAM'): Promise<ConsoleAccessRecord>;
  /** Where the gateway's proxy connects for GATEWAY mode. Resolved at ticket redemption so credentials are fresh. */
  consoleTarget(upstreamId: string): Promise<ConsoleTarget>;
  /**
   * Cheap check, before a ticket is minted, that the VM has a console at all (throws
   * ConsoleUnavailableError). Providers whose answer would cost an upstream call leave it out.
   */
  assertConsoleAvailable?(upstreamId: string): Promise<void>;
  /** Validate an upstream id's syntax; throw BadUserInputError if malformed. */
  parseUpstreamId(upstreamId: string): void;
}
