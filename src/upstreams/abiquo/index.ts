/** The Abiquo provider: REST walk, Outbound API event stream, websockify token file. */
export { createAbiquoProvider } from './provider.js';
export type { AbiquoProvider, AbiquoTestOverrides, AbiquoCacheState, AbiquoCacheUpdate } from './provider.js';
export { AbiquoClient, apiRootOf, abiquoAuthorization } from './client.js';
export type { AbiquoClientConfig, AbiquoWalkResult, AbiquoWalkError, AbiquoEnterpriseVm } from './client.js';
export { AbiquoEventStream } from './stream.js';
export type { AbiquoStreamConfig, AbiquoStreamHandlers, AbiquoEventStreamState } from './stream.js';
export { parseAbiquoEvent } from './events.js';
export type { AbiquoEvent } from './events.js';
export { SseParser } from './sse.js';
export type { SseMessage } from './sse.js';
export { TokenFileWriter, renderTokenFile } from './token-file.js';
export type { TokenFileFs, TokenFileState, TokenFileWriterOptions } from './token-file.js';
export type { AbiquoEnterprise, AbiquoVm, AbiquoLink } from './model.js';
