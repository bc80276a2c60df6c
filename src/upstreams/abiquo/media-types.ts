/**
 * Abiquo's versioned vendor media types as the client speaks them (the simulator has its own).
 * `application/vnd.abiquo.<entity>+json; version=<v>` (JSON by default since API 3.0) and the `+xml` twin
 * that older APIs spoke (../../../shared/UPSTREAMS.md).
 */

export type AbiquoFormat = 'json' | 'xml';

export interface AbiquoMediaType {
  /** Entity part, e.g. `enterprises`, `virtualmachines`, `errors`. */
  entity: string;
  format: AbiquoFormat;
  /** The `version` parameter, or null when absent. */
  version: string | null;
}

export function formatMediaType(entity: string, format: AbiquoFormat, version?: string | null): string {
  const base = `application/vnd.abiquo.${entity}+${format}`;
  return version ? `${base}; version=${version}` : base;
}

/** Parse one media type (no lists); null when it is not an Abiquo vendor type. */
export function parseMediaType(value: string): AbiquoMediaType | null {
  const [type, ...params] = value.split(';');
  const m = /^application\/vnd\.abiquo\.([a-z0-9]+)\+(json|xml)$/i.exec((type ?? '').trim());
  if (!m) return null;
  let version: string | null = null;
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'version' && v !== undefined) version = v.trim().replace(/^"|"$/g, '');
  }
  return { entity: m[1]!.toLowerCase(), format: m[2]!.toLowerCase() as AbiquoFormat, version };
}
