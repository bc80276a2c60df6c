/** The Abiquo provider: REST walk, Outbound API event stream, websockify token file. */
export { createAbiquoProvider } from './provider.js';
export type { AbiquoProvider, AbiquoProviderDeps, AbiquoProviderOptions, AbiquoCacheState, AbiquoCacheUpdate } from './provider.js';
export { AbiquoClient, apiRootOf, authorizationHeader } from './client.js';
export type { AbiquoAuth, AbiquoClientOptions, AbiquoWalkResult, AbiquoWalkError, AbiquoEnterpriseVm } from './client.js';
export { AbiquoEventStream, DEFAULT_STREAM_ACTIONS } from './stream.js';
export type { AbiquoEventStreamOptions, AbiquoEventStreamState } from './stream.js';
export { parseAbiquoEvent } from './events.js';
export type { AbiquoEvent } from './events.js';
export { SseParser } from './sse.js';
export type { SseMessage } from './sse.js';
export { TokenFileWriter, renderTokenFile } from './token-file.js';
export type { TokenFileFs, TokenFileState, TokenFileWriterOptions } from './token-file.js';
export type { AbiquoEnterprise, AbiquoVm, AbiquoLink } from './model.js';
export type { Timers } from './timers.js';
