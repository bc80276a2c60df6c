/**
 * Reading a console upgrade request: which credential it carries and which subprotocols it
 * offers, or which refusal (src/websocket-codes.ts) answers it before any WebSocket exists.
 *
 * The request decides *whether* a console opens, never *where*: the target always comes from the
 * gateway's own data (the ticket's VM, or the operator's token file). Query parameters that try to
 * pick a target are refused outright, so a probe learns it cannot steer the proxy.
 */
import type { IncomingMessage } from 'node:http';
import { UpgradeRefusal } from '../websocket-codes.js';

/** websockify's subprotocol for raw bytes; the only one we speak (no legacy `base64`). */
export const BINARY_SUBPROTOCOL = 'binary';
/** A ticket offered as a subprotocol (`ticket.<value>`) stays out of URLs, access logs and Referers. */
export const TICKET_SUBPROTOCOL_PREFIX = 'ticket.';

/**
 * Query parameters that would name a target in other websockify front ends (websockify's own
 * vnc.html, CloudTower's `host=`). Refused with 400 rather than ignored: silently ignoring them
 * would let a client believe it reached the host it asked for.
 */
const TARGET_PARAMS = ['host', 'port', 'path', 'target'] as const;

export type ConsoleCredential =
  | { kind: 'ticket'; ticket: string | null; via: 'query' | 'subprotocol' | 'none' }
  | { kind: 'token'; token: string };

export interface ParsedUpgrade {
  credential: ConsoleCredential;
  /** True when the client offered subprotocols and `binary` is among them. */
  offersBinary: boolean;
}

/** `ws`'s own check (ws/lib/websocket-server.js): 16 random bytes, base64. */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

export function parseUpgradeRequest(req: IncomingMessage): ParsedUpgrade | UpgradeRefusal {
  // Checked here although `ws` checks again: a request `ws` would refuse must not use up a ticket.
  const version = req.headers['sec-websocket-version'];
  if (
    req.method !== 'GET' ||
    req.headers.upgrade?.toLowerCase() !== 'websocket' ||
    !WEBSOCKET_KEY.test(req.headers['sec-websocket-key'] ?? '') ||
    (version !== '13' && version !== '8')
  ) {
    return UpgradeRefusal.BadHandshake;
  }
  const url = new URL(req.url ?? '/', 'http://gateway.invalid');
  const query = url.searchParams;
  for (const name of TARGET_PARAMS) {
    if (query.has(name)) return UpgradeRefusal.TargetParamsRefused;
  }

  const offered = splitProtocols(req.headers['sec-websocket-protocol']);
  const ticketProtocols = offered.filter((p) => p.startsWith(TICKET_SUBPROTOCOL_PREFIX));
  const others = offered.filter((p) => !p.startsWith(TICKET_SUBPROTOCOL_PREFIX));
  const offersBinary = others.includes(BINARY_SUBPROTOCOL);
  // Offering only `base64` (or anything else) means the client cannot speak binary; offering a
  // ticket subprotocol alone would leave nothing for us to select, and a client that offered
  // protocols fails a handshake where none is selected.
  if (offered.length > 0 && !offersBinary) return UpgradeRefusal.SubprotocolUnsupported;

  const queryTickets = query.getAll('ticket');
  const queryTokens = query.getAll('token');
  const presented = queryTickets.length + queryTokens.length + ticketProtocols.length;
  if (presented > 1) return UpgradeRefusal.CredentialsAmbiguous;

  let credential: ConsoleCredential;
  if (queryTokens[0] !== undefined) credential = { kind: 'token', token: queryTokens[0] };
  else if (queryTickets[0] !== undefined) credential = { kind: 'ticket', ticket: queryTickets[0], via: 'query' };
  else if (ticketProtocols[0] !== undefined) {
    credential = { kind: 'ticket', ticket: ticketProtocols[0].slice(TICKET_SUBPROTOCOL_PREFIX.length), via: 'subprotocol' };
  } else credential = { kind: 'ticket', ticket: null, via: 'none' };
  return { credential, offersBinary };
}

export function isRefusal(x: ParsedUpgrade | UpgradeRefusal): x is UpgradeRefusal {
  return 'status' in x;
}

function splitProtocols(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}
