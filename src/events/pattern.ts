/**
 * DRP-style event filters: `type.action.key`, each part either `*` or an exact value.
 *
 * The same syntax is used by GraphQL subscriptions on the gateway's bus and by the DRP event socket
 * (`register type.action.key`), so a caller's filter can be pushed down to DRP unchanged.
 */
import { BadUserInputError } from '../errors.js';

export interface EventPattern {
  /** `*` or an exact type (e.g. `machines`). */
  readonly type: string;
  /** `*` or an exact action (e.g. `save`). */
  readonly action: string;
  /** `*` or an exact key (e.g. a machine uuid); may contain dots. */
  readonly key: string;
}

export const WILDCARD = '*';

/**
 * DRP closes the event socket on any inbound message over 512 bytes (a gorilla read limit), and the
 * longest command that carries a filter is `deregister <filter>`. Limiting the filter to what fits in
 * that command keeps every pattern the gateway accepts pushable to DRP.
 */
export const MAX_INBOUND_MESSAGE_BYTES = 512;
export const MAX_PATTERN_BYTES = MAX_INBOUND_MESSAGE_BYTES - 'deregister '.length;

/** Matches every event. */
export const ALL_EVENTS: EventPattern = Object.freeze({ type: WILDCARD, action: WILDCARD, key: WILDCARD });

// Commands on the DRP socket are space-separated, so a part with whitespace could never be registered.
const FORBIDDEN_CHARS = /[\s\u0000-\u001f\u007f]/u;

/**
 * Parses `type.action.key`. The text is split on the first two dots only: the key is everything after
 * the second dot, because DRP keys may themselves contain dots (lease and reservation keys are IPv4
 * addresses, e.g. `leases.create.10.0.0.5`).
 *
 * @throws BadUserInputError naming what is wrong.
 */
export function parseEventPattern(text: string): EventPattern {
  if (typeof text !== 'string') throw new BadUserInputError('event pattern must be a string');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PATTERN_BYTES) {
    throw new BadUserInputError(`event pattern is ${bytes} bytes; at most ${MAX_PATTERN_BYTES} bytes are allowed`, {
      maxBytes: MAX_PATTERN_BYTES,
    });
  }
  const firstDot = text.indexOf('.');
  const secondDot = firstDot < 0 ? -1 : text.indexOf('.', firstDot + 1);
  if (secondDot < 0) {
    throw new BadUserInputError(`event pattern "${printable(text)}" must have three parts: type.action.key`);
  }
  const pattern: EventPattern = {
    type: text.slice(0, firstDot),
    action: text.slice(firstDot + 1, secondDot),
    key: text.slice(secondDot + 1),
  };
  for (const [name, value] of Object.entries(pattern) as Array<[keyof EventPattern, string]>) {
    if (value === '') {
      throw new BadUserInputError(`event pattern "${printable(text)}" has an empty ${name} part; use * to match any ${name}`);
    }
    if (FORBIDDEN_CHARS.test(value)) {
      throw new BadUserInputError(`event pattern "${printable(text)}" has whitespace or a control character in its ${name} part`);
    }
    // DRP compares each part as a whole: `mach*` would silently match nothing, so refuse it.
    if (value !== WILDCARD && value.includes(WILDCARD)) {
      throw new BadUserInputError(
        `event pattern "${printable(text)}": * matches a whole part only, so the ${name} part must be * or an exact value`,
      );
    }
  }
  return Object.freeze(pattern);
}

/** The canonical text of a pattern, as sent in `register`/`deregister`. */
export function formatEventPattern(pattern: EventPattern): string {
  return `${pattern.type}.${pattern.action}.${pattern.key}`;
}

export function matchesPattern(pattern: EventPattern, event: { type: string; action: string; key: string }): boolean {
  return (
    (pattern.type === WILDCARD || pattern.type === event.type) &&
    (pattern.action === WILDCARD || pattern.action === event.action) &&
    (pattern.key === WILDCARD || pattern.key === event.key)
  );
}

/** Error messages echo the pattern; keep them one readable line of bounded length. */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/gu, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}
