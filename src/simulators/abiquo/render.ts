/**
 * Abiquo wire bodies in both formats. JSON: `{"links":[...],"collection":[...],"totalSize":N}`;
 * XML (pre-3.0 APIs, the shape the seed's XPath reads): `<enterprises><link .../><totalSize>N</totalSize>
 * <enterprise>...</enterprise></enterprises>`, `<virtualMachines><virtualMachine>...`.
 */
import type { WireFormat, WireLink } from './wire.js';

/** One entity as an ordered list of fields; `null`/`undefined` values are left out, as Abiquo omits them. */
export interface SimEntity {
  links: WireLink[];
  fields: Array<[string, string | number | boolean | null | undefined]>;
}

export interface SimCollection {
  /** JSON has no root names; XML uses these. */
  rootTag: string;
  itemTag: string;
  links: WireLink[];
  items: SimEntity[];
  totalSize: number;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function linkXml(l: WireLink): string {
  const attrs = [`rel="${escapeXml(l.rel)}"`, `href="${escapeXml(l.href)}"`];
  if (l.type !== undefined) attrs.push(`type="${escapeXml(l.type)}"`);
  if (l.title !== undefined) attrs.push(`title="${escapeXml(l.title)}"`);
  return `<link ${attrs.join(' ')}/>`;
}

function entityJson(e: SimEntity): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of e.fields) if (v !== null && v !== undefined) out[k] = v;
  out.links = e.links;
  return out;
}

function entityXml(tag: string, e: SimEntity): string {
  const parts = e.links.map(linkXml);
  for (const [k, v] of e.fields) if (v !== null && v !== undefined) parts.push(`<${k}>${escapeXml(String(v))}</${k}>`);
  return `<${tag}>${parts.join('')}</${tag}>`;
}

export function renderCollection(c: SimCollection, format: WireFormat): string {
  if (format === 'json') {
    return JSON.stringify({ links: c.links, collection: c.items.map(entityJson), totalSize: c.totalSize });
  }
  const body = [...c.links.map(linkXml), `<totalSize>${c.totalSize}</totalSize>`, ...c.items.map((i) => entityXml(c.itemTag, i))];
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><${c.rootTag}>${body.join('')}</${c.rootTag}>`;
}

export function renderErrors(errors: Array<{ code: string; message: string }>, format: WireFormat): string {
  if (format === 'json') return JSON.stringify({ collection: errors });
  const items = errors.map((e) => `<error><code>${escapeXml(e.code)}</code><message>${escapeXml(e.message)}</message></error>`);
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><errors>${items.join('')}</errors>`;
}

/** A body cut off mid-entity, as a proxy that drops the connection or a buggy server would send. */
export function renderMalformed(format: WireFormat): string {
  return format === 'json'
    ? '{"links":[],"collection":[{"id":1,"name":"trunc'
    : '<?xml version="1.0" encoding="UTF-8"?><virtualMachines><virtualMachine><id>1</id><name>trunc';
}
