export { TokenFileResolver } from './resolver.js';
export type { TokenFileResolverOptions, TokenFileReload, HostPort } from './resolver.js';
export { parseTokenFile, parseHostPort } from './parse.js';
export type { ParsedTokenFile, TokenFileProblem } from './parse.js';
