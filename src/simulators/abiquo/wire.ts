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

export interface NegotiatedFormat {
  format: WireFormat;
  version: string | null;
  /** The status to refuse with (406 or 415) when the client asked for another entity or no Abiquo type; else null. */
  refused: 406 | 415 | null;
}

/**
 * What to answer an Accept header with. No header, or `*\/*`, gets JSON (the default since API 3.0). A
 * refused request still gets its error body in the format the client seemed to want.
 */
export function negotiateFormat(accept: string | undefined, entity: string | null, refuseWith: 406 | 415 | null): NegotiatedFormat {
  const wanted = accept?.trim() ?? '';
  if (wanted === '' || wanted === '*/*') return { format: 'json', version: null, refused: null };
  const parsed = readVendorMediaType(wanted);
  if (parsed && (entity === null || parsed.entity === entity)) return { format: parsed.format, version: parsed.version, refused: null };
  return { format: parsed?.format ?? (/xml/iu.test(wanted) ? 'xml' : 'json'), version: parsed?.version ?? null, refused: refuseWith };
}
