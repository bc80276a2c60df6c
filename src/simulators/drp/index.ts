/** A simulated Digital Rebar Provision server: event socket, tokens, published and demo events. */
export { DEFAULT_DRP_USERS, startDrpSimulator } from './server.js';
export type { DrpSimulator, DrpSimulatorOptions, SimCommandOutcome, SimConnectionInfo } from './server.js';
export type { AuthMethod } from './auth.js';
export type { DrpObjectAction, DrpObjectChange } from './demo.js';
export { parseRegistrationFilter, registrationMatches, SocketRegistrations } from './registrations.js';
export type { RegisterOutcome, RegistrationFilter } from './registrations.js';
export type { DrpErrorBody, DrpEvent, PublishedEvent } from './wire.js';
