/** The Abiquo simulator's options, fault switches and counters: its control surface for tests and demos. */
import type { AbiquoSimEnterprise, AbiquoSimVm } from './data.js';
import type { AbiquoEventFormat } from './events.js';

/**
 * - `error`: HTTP 500 with an Abiquo error body.
 * - `malformed`: HTTP 200 with the right media type and a truncated body (JSON or XML, as asked).
 * - `hang`: never answer; the socket stays open until the client gives up or the simulator closes.
 */
export type AbiquoSimFault = 'error' | 'malformed' | 'hang';

/** Where a fault applies: the enterprise list, one enterprise's VM list, or the event stream. */
export type AbiquoSimFaultTarget = 'enterprises' | 'stream' | number;

export interface AbiquoSimulatorOptions {
  /** Enterprises and VMs served. @default defaultAbiquoData() */
  data?: AbiquoSimEnterprise[];
  /** Basic auth user. @default 'admin' */
  username?: string;
  /** Basic auth password (Abiquo's documented default). @default 'xabiquo' */
  password?: string;
  /** Tokens accepted as `Authorization: Token <t>` or `Bearer <t>`. @default [] */
  tokens?: string[];
  /** Milliseconds added before answering each REST request. @default 0 */
  latencyMs?: number;
  /** Event body format on the stream. @default 'legacy' */
  eventFormat?: AbiquoEventFormat;
  /**
   * Status for an `Accept` naming another entity or a non-Abiquo type. Abiquo refuses a wrong media type,
   * but whether with 406 or 415 is unverified; null serves JSON regardless. @default 406
   */
  wrongMediaTypeStatus?: 406 | 415 | null;
  /** `limit` when the request names none. @default 25 */
  defaultLimit?: number;
  /** Base URL used in links instead of the server's own (tests of link-following rules). */
  publicBaseUrl?: string;
  /**
   * Live console for a VM that has a remote desktop address: its vdrpIP/vdrpPort are served from the
   * answer instead of the data set. VMs without a vdrp address keep none. Return null to keep the data's.
   */
  consoleFor?: (vm: AbiquoSimVm, enterpriseId: number) => { host: string; port: number } | null;
  /**
   * The hypervisor's side of each console: told whether a VNC server listens for the VM
   * (`vncListening`: a remote desktop address, enabled, and a state whose process runs), for every VM
   * with an address when the simulator starts and again whenever a control method changes a VM. With
   * a console farm: `(vm, ent, on) => farm.setPowered(key, on)`, so a powered-off VM's console closes
   * every connection and one powered off while in use drops its clients, as on a real host.
   */
  consolePower?: (vm: AbiquoSimVm, enterpriseId: number, listening: boolean) => void;
}

export interface AbiquoSimStats {
  /** REST requests answered or in progress (not streams). */
  requests: number;
  enterpriseListRequests: number;
  vmListRequests: number;
  /** Highest number of REST requests in progress at once since the last reset. */
  maxInFlight: number;
  /** Stream connections accepted since the last reset. */
  streamConnections: number;
  /** Streams open now. */
  openStreams: number;
  /** `Accept` header of the latest REST request. */
  lastAccept: string | null;
}
