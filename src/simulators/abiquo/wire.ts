/**
 * Abiquo's wire vocabulary as the simulator serves it, from /work/shared/UPSTREAMS.md (Abiquo). Kept
 * apart from the gateway's client (src/upstreams/abiquo/) so that the two read the vendor's media types
 * independently: a misreading on one side makes the tests fail instead of passing on both.
 */

/** JSON is the default since API 3.0; older APIs spoke XML. */
export type WireFormat = 'json' | 'xml';

/** A `links` entry: `{"rel","href","type","title"}`. */
export interface WireLink {
  rel: string;
  href: string;
  type?: string;
  title?: string;
}

/** The VM states the API documents. */
export type VmState = 'NOT_ALLOCATED' | 'ALLOCATED' | 'CONFIGURED' | 'ON' | 'PAUSED' | 'OFF' | 'LOCKED' | 'UNKNOWN';

/** `application/vnd.abiquo.<entity>+<format>`, with `; version=<v>` when a version is known. */
export function vendorMediaType(entity: string, format: WireFormat, version?: string | null): string {
  const type = `application/vnd.abiquo.${entity}+${format}`;
  return version ? `${type}; version=${version}` : type;
}

export interface RequestedMediaType {
  /** e.g. `enterprises`, `virtualmachines`, lower-cased. */
  entity: string;
  format: WireFormat;
  /** The `version` parameter, unquoted; null when absent. */
  version: string | null;
}

/** Reads one Accept value as an Abiquo vendor type; null for anything else (a list, `text/html`, ...). */
export function readVendorMediaType(accept: string): RequestedMediaType | null {
  const [essence = '', ...parameters] = accept.split(';').map((part) => part.trim());
  const match = /^application\/vnd\.abiquo\.(?<entity>[a-z0-9]+)\+(?<format>json|xml)$/iu.exec(essence);
  if (!match?.groups) return null;
  let version: string | null = null;
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'version') continue;
    version = parameter.slice(equals + 1).trim().replace(/^"(.*)"$/u, '$1');
  }
  return {
    entity: match.groups.entity!.toLowerCase(),
    format: match.groups.format!.toLowerCase() as WireFormat,
    version,
  };
}
