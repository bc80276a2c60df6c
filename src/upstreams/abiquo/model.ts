/**
 * Typed Abiquo entities as the client hands them on, and the decoders that build them from either
 * wire format. JSON (API 3.0+) and XML (older APIs, parsed by ./xml.ts into plain trees where every
 * leaf is a string) go through the same decoders, so both formats yield identical objects.
 *
 * Facts (../../../shared/UPSTREAMS.md): collections are `{links, collection, totalSize}`; VM fields
 * `id name label uuid state cpu ram vdrpIP vdrpPort vdrpEnabled password links`.
 */
import { isIP } from 'node:net';
import { ErrorCode, GatewayError } from '../../errors.js';

export interface AbiquoLink {
  rel: string;
  href: string;
  type?: string;
  title?: string;
}

export interface AbiquoEnterprise {
  id: number;
  name: string;
  links: AbiquoLink[];
}

/** VM states the API documents; anything else is kept as a string and normalised to UNKNOWN. */
export const ABIQUO_VM_STATES = ['NOT_ALLOCATED', 'ALLOCATED', 'CONFIGURED', 'ON', 'PAUSED', 'OFF', 'LOCKED', 'UNKNOWN'] as const;
export type AbiquoVmState = (typeof ABIQUO_VM_STATES)[number];

export interface AbiquoVm {
  id: number;
  /** Internal name (e.g. `ABQ_6d7e...`). */
  name: string;
  /** Display name chosen by the user. */
  label: string | null;
  uuid: string | null;
  state: string;
  cpu: number | null;
  /** Megabytes. */
  ram: number | null;
  /** Remote desktop (VNC) address as the upstream reports it; validate with vdrpTarget() before use. */
  vdrpIP: string | null;
  /** Kept raw: a malformed port must not pass as a number. */
  vdrpPort: number | null;
  vdrpEnabled: boolean | null;
  /** VNC password. Secret: never log. */
  password: string | null;
  links: AbiquoLink[];
}

export interface AbiquoPage<T> {
  items: T[];
  links: AbiquoLink[];
  totalSize: number | null;
}

/** Thrown by decoders; the client turns it into UpstreamResponseError naming what was wrong. */
export class DecodeError extends GatewayError {
  declare readonly code: typeof ErrorCode.UpstreamBodyUndecodable;
  constructor(message: string) {
    super(ErrorCode.UpstreamBodyUndecodable, message);
  }
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asArray(v: unknown): unknown[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? v : [v];
}

function optString(v: unknown): string | null {
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number') return String(v);
  return null;
}

function optInt(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v.trim())) return Number(v.trim());
  return null;
}

function optBool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

function requiredId(v: unknown, what: string): number {
  const id = optInt(v);
  if (id === null || id < 0) throw new DecodeError(`${what} without a numeric id`);
  return id;
}

export function decodeLinks(v: unknown): AbiquoLink[] {
  const out: AbiquoLink[] = [];
  for (const l of asArray(v)) {
    if (!isTree(l) || typeof l.rel !== 'string' || typeof l.href !== 'string') continue;
    const link: AbiquoLink = { rel: l.rel, href: l.href };
    if (typeof l.type === 'string') link.type = l.type;
    if (typeof l.title === 'string') link.title = l.title;
    out.push(link);
  }
  return out;
}

export function decodeEnterprise(v: unknown): AbiquoEnterprise {
  if (!isTree(v)) throw new DecodeError('an enterprise that is not an object');
  return { id: requiredId(v.id, 'an enterprise'), name: optString(v.name) ?? '', links: decodeLinks(v.link ?? v.links) };
}

export function decodeVm(v: unknown): AbiquoVm {
  if (!isTree(v)) throw new DecodeError('a virtual machine that is not an object');
  const port = optInt(v.vdrpPort);
  return {
    id: requiredId(v.id, 'a virtual machine'),
    name: optString(v.name) ?? '',
    label: optString(v.label),
    uuid: optString(v.uuid),
    state: optString(v.state) ?? 'UNKNOWN',
    cpu: optInt(v.cpu),
    ram: optInt(v.ram),
    vdrpIP: optString(v.vdrpIP)?.trim() ?? null,
    vdrpPort: port,
    vdrpEnabled: optBool(v.vdrpEnabled),
    password: optString(v.password),
    links: decodeLinks(v.link ?? v.links),
  };
}

/**
 * A collection in either shape: JSON `{links, collection, totalSize}` or the XML tree
 * `{link: [...], totalSize, <itemTag>: [...]}` (the root element already unwrapped).
 */
export function decodePage<T>(body: unknown, itemTag: string, decodeItem: (v: unknown) => T): AbiquoPage<T> {
  if (!isTree(body)) throw new DecodeError('a collection that is not an object');
  const rawItems = 'collection' in body ? body.collection : body[itemTag];
  if ('collection' in body && !Array.isArray(rawItems)) throw new DecodeError('a collection whose `collection` is not a list');
  return {
    items: asArray(rawItems).map(decodeItem),
    links: decodeLinks(body.links ?? body.link),
    totalSize: optInt(body.totalSize),
  };
}

/** First `{code, message}` of an Abiquo error body (JSON `{collection:[...]}` or XML `<errors><error>`). */
export function decodeErrorBody(body: unknown): { code: string; message: string } | null {
  if (!isTree(body)) return null;
  const first = asArray(body.collection ?? body.error)[0];
  if (!isTree(first)) return null;
  const code = optString(first.code);
  if (code === null) return null;
  return { code, message: optString(first.message) ?? '' };
}

// Hostnames as RFC 1123 labels: anything else (spaces, colons, newlines) could corrupt the token file
// or steer the console proxy somewhere odd.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * The VM's VNC endpoint when its vdrp fields are complete and well-formed, else null.
 * `vdrpEnabled: false` means the remote desktop is switched off, so no endpoint either.
 */
export function vdrpTarget(vm: Pick<AbiquoVm, 'vdrpIP' | 'vdrpPort' | 'vdrpEnabled'>): { host: string; port: number } | null {
  if (vm.vdrpEnabled === false) return null;
  const host = vm.vdrpIP;
  const port = vm.vdrpPort;
  if (host === null || port === null) return null;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  if (isIP(host) === 0 && !HOSTNAME.test(host)) return null;
  return { host, port };
}
