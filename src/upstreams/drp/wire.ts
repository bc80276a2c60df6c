/**
 * The DRP v3 event socket's wire format as the client reads it (the simulator has its own reading).
 * Facts from /work/shared/UPSTREAMS.md (DRP section) and the DRP docs "13.4 Websocket Access".
 */

/** Path of the event socket. */
export const DRP_WS_PATH = '/api/v3/ws';
/** Path that publishes an event (POST, 204). */
export const DRP_EVENTS_PATH = '/api/v3/events';
/** The challenge DRP sends with a 401. */
export const DRP_AUTH_CHALLENGE = 'dr-provision';
/** Type of the events that acknowledge `register`/`deregister`. */
export const DRP_ACK_TYPE = 'websocket';

export type DrpCommandVerb = 'register' | 'deregister';

/** An event as DRP sends it: PascalCase, every field present (no omitempty). */
export interface DrpEvent {
  Time: string;
  Type: string;
  Action: string;
  Key: string;
  Principal: string;
  Object: unknown;
  /** The object before the change, for `update`/`save`; null otherwise. */
  Original: unknown;
}

/** The JSON error body DRP answers with (e.g. `{"Type":"AUTH","Code":403,"Messages":["..."]}`). */
export interface DrpErrorBody {
  Type: string;
  Code: number;
  Messages: string[];
}

export function tokenPath(user: string, ttlSeconds: number): string {
  return `/api/v3/users/${encodeURIComponent(user)}/token?ttl=${ttlSeconds}`;
}

export function formatCommand(verb: DrpCommandVerb, filter: string): string {
  return `${verb} ${filter}`;
}

/** Parses a text command; null for anything that is not `register|deregister <filter>` (DRP ignores those). */
export function parseCommand(text: string): { verb: DrpCommandVerb; filter: string } | null {
  const space = text.indexOf(' ');
  if (space < 0) return null;
  const verb = text.slice(0, space);
  const filter = text.slice(space + 1).trim();
  if ((verb !== 'register' && verb !== 'deregister') || filter === '') return null;
  return { verb, filter };
}

/** Narrows parsed JSON to a DRP event; tolerant of missing Principal/Object/Original (older servers). */
export function asDrpEvent(value: unknown): DrpEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.Type !== 'string' || typeof v.Action !== 'string' || typeof v.Key !== 'string') return null;
  return {
    Time: typeof v.Time === 'string' ? v.Time : '',
    Type: v.Type,
    Action: v.Action,
    Key: v.Key,
    Principal: typeof v.Principal === 'string' ? v.Principal : '',
    Object: v.Object ?? null,
    Original: v.Original ?? null,
  };
}
