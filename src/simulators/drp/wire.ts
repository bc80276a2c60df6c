/**
 * The DRP v3 event socket as the simulator reads and writes it, from /work/shared/UPSTREAMS.md (DRP)
 * and DRP's "13.4 Websocket Access". Written apart from the gateway's client (src/upstreams/drp/) on
 * purpose: if either side misreads DRP, the two disagree and a test fails, instead of both sharing the
 * mistake.
 */

export const WS_PATH = '/api/v3/ws';
/** POST an event here to publish it (204). */
export const EVENTS_PATH = '/api/v3/events';
/** Sent as `WWW-Authenticate` with a 401. */
export const AUTH_CHALLENGE = 'dr-provision';
/** The Type of the events that acknowledge `register`/`deregister`. */
export const ACK_TYPE = 'websocket';
/** DRP's read limit on the event socket: a longer inbound message closes it (1009, message too big). */
export const MAX_INBOUND_MESSAGE_BYTES = 512;

/** An event as DRP sends it: PascalCase, every field present (DRP's models have no omitempty). */
export interface DrpEvent {
  /** RFC 3339 with nanoseconds in real DRP; the simulator sends millisecond ISO strings. */
  Time: string;
  Type: string;
  Action: string;
  Key: string;
  Principal: string;
  Object: unknown;
  /** The object before the change for `update`/`save`; null otherwise. */
  Original: unknown;
}

/** DRP's JSON error body, e.g. `{"Type":"AUTH","Code":403,"Messages":["..."]}`. */
export interface DrpErrorBody {
  Type: string;
  Code: number;
  Messages: string[];
}

export interface SocketCommand {
  verb: 'register' | 'deregister';
  /** The `type.action.key` text exactly as sent; whether it is a usable filter is decided elsewhere. */
  filter: string;
}

/**
 * A text message on the event socket: the verb, one space, the filter. Anything else is not a command,
 * and DRP ignores what it does not understand rather than closing the socket.
 */
export function readCommand(text: string): SocketCommand | null {
  const match = /^(register|deregister) (.+)$/su.exec(text);
  if (!match) return null;
  const filter = match[2]!.trim();
  return filter === '' ? null : { verb: match[1] as SocketCommand['verb'], filter };
}

/** One event as the JSON text frame DRP sends, fields in DRP's order. */
export function encodeEvent(event: DrpEvent): string {
  const { Time, Type, Action, Key, Principal, Object, Original } = event;
  return JSON.stringify({ Time, Type, Action, Key, Principal, Object: Object ?? null, Original: Original ?? null });
}

/** The fields a publisher must give; the rest default to DRP's empty values. */
export type PublishedEvent = Partial<DrpEvent> & Pick<DrpEvent, 'Type' | 'Action' | 'Key'>;

/** Reads the body of `POST /api/v3/events`: Type, Action and Key must be strings; null otherwise. */
export function readPostedEvent(body: string): PublishedEvent | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const fields = parsed as Record<string, unknown>;
  const { Type, Action, Key } = fields;
  if (typeof Type !== 'string' || typeof Action !== 'string' || typeof Key !== 'string') return null;
  const event: PublishedEvent = { Type, Action, Key, Object: fields.Object ?? null, Original: fields.Original ?? null };
  if (typeof fields.Time === 'string') event.Time = fields.Time;
  if (typeof fields.Principal === 'string') event.Principal = fields.Principal;
  return event;
}
