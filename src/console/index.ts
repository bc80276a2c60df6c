/** The console proxy: tickets, the websockify-compatible WebSocket endpoint, and its close codes. */
export { createConsoleEndpoint } from './endpoint.js';
export type { ConsoleEndpoint, ConsoleEndpointOptions, ConsoleLimits, ConsoleSessionEvent } from './endpoint.js';
export { ConsoleCloseCode, closeReason } from '../websocket-codes.js';
export { TicketService, TicketError, TicketErrorCode, isTicketError, ticketErrorStatus } from './tickets.js';
export type { MintRequest, MintedTicket, TicketServiceOptions } from './tickets.js';
export { MemoryTicketStore } from './ticket-store.js';
export type { TicketRecord, TicketStore, StoredTicket, MemoryTicketStoreOptions } from './ticket-store.js';
export type { ResolvedTarget, SessionSummary } from './session.js';
export { BINARY_SUBPROTOCOL, TICKET_SUBPROTOCOL_PREFIX } from './upgrade-request.js';
