/**
 * XML bodies of older Abiquo APIs, turned into the same plain trees the JSON decoders read.
 * Attributes become plain keys (`<link rel=.. href=../>` -> `{rel, href}`), leaves stay strings.
 */
import { XMLParser } from 'fast-xml-parser';
import { DecodeError } from './model.js';

// Elements that repeat in Abiquo collections; forced to arrays so one item looks like many.
const REPEATED = new Set(['enterprise', 'virtualMachine', 'link', 'error']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  isArray: (name) => REPEATED.has(name),
  // The five predefined entities (&amp; &lt; ...) only ever shrink text. Declared entities are refused
  // before parsing (see DOCTYPE below); these bounds are the library's second line if one got through.
  processEntities: { enabled: true, maxEntityCount: 0, maxEntitySize: 1, maxExpansionDepth: 1 },
  htmlEntities: false,
});

// Abiquo's XML never carries a DOCTYPE. One is how entity bombs (billion laughs, quadratic blow-up)
// and external entities arrive, so a document with one is refused unread.
const DOCTYPE = /<!DOCTYPE/i;

/**
 * Parse and validate an XML document; returns the content of `rootTag`.
 * The parser alone accepts truncated documents, so validation is switched on.
 */
export function parseXmlRoot(text: string, rootTag: string): unknown {
  if (DOCTYPE.test(text)) throw new DecodeError('an XML body with a DOCTYPE (entity declarations are refused)');
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch {
    throw new DecodeError('a body that is not well-formed XML');
  }
  if (typeof doc !== 'object' || doc === null || !(rootTag in doc)) {
    throw new DecodeError(`an XML body without <${rootTag}>`);
  }
  const root = (doc as Record<string, unknown>)[rootTag];
  // `<virtualMachines/>` parses to '' : an empty collection.
  return root === '' ? {} : root;
}
