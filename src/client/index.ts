/**
 * Typed client for internal consumers of the gateway: typed documents for what the README shows
 * (list VMs, open a console, subscribe to events), a fetch-based request function for queries and
 * mutations, and a graphql-ws helper for subscriptions, both sending the caller's credentials the way
 * the gateway accepts them (HTTP: `x-api-key` or `Authorization: Bearer`; graphql-ws:
 * `connectionParams` `{ apiKey }` or `{ authorization: 'Bearer …' }`).
 *
 * Types come from graphql-codegen's client-preset (./generated/, `npm run codegen`); the scalars map
 * to `DateTime` → `string` (ISO-8601) and `JSON` → `unknown`. This entry point imports nothing of the
 * gateway itself, so it can be copied or published on its own.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

export * from './documents.js';
export type {
  ConsoleMode,
  EventFilter,
  EventSource,
  EventsSubscription,
  EventsSubscriptionVariables,
  ListVmsQuery,
  ListVmsQueryVariables,
  OpenConsoleMutation,
  OpenConsoleMutationVariables,
  ProviderKind,
  VmFilter,
  VmStatus,
} from './generated/graphql.js';

/** How the client authenticates: one of an API key or a bearer token (JWT), or nothing (auth.mode none). */
export type GatewayCredentials = { apiKey: string } | { bearerToken: string } | Record<string, never>;

export interface GatewayClientOptions {
  /** The gateway's base URL, e.g. `https://console-gateway.example` (the client adds `/graphql`). */
  url: string;
  /** @default no credentials */
  credentials?: GatewayCredentials;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** WebSocket implementation for subscriptions: pass `ws`'s default export on Node 20. @default globalThis.WebSocket */
  webSocketImpl?: unknown;
  /** graphql-ws reconnect attempts after a dropped connection. @default 5 */
  retryAttempts?: number;
}

/** A GraphQL response with errors: `errors` as the gateway sent them (each with `extensions.code`). */
export class GatewayRequestError extends Error {
  readonly errors: readonly GraphQLFormattedError[];
  readonly status: number;
  constructor(status: number, errors: readonly GraphQLFormattedError[]) {
    super(errors.map((e) => `${String(e.extensions?.code ?? 'ERROR')}: ${e.message}`).join('; ') || `HTTP ${status}`);
    this.name = 'GatewayRequestError';
    this.errors = errors;
    this.status = status;
  }
}

export interface GatewayClient {
  /**
   * Runs a query or mutation over HTTP. Resolves with `data` when the response has no errors; rejects
   * with GatewayRequestError otherwise. Use `execute` to keep partial data beside errors.
   */
  request<TData, TVariables extends Record<string, unknown>>(document: TypedDocumentNode<TData, TVariables>, variables?: TVariables): Promise<TData>;
  /** Runs a query or mutation over HTTP and returns the whole response (partial data and errors). */
  execute<TData, TVariables extends Record<string, unknown>>(document: TypedDocumentNode<TData, TVariables>, variables?: TVariables): Promise<ExecutionResult<TData> & { status: number }>;
  /**
   * Subscribes over graphql-ws (one shared connection, opened lazily, credentials in `connectionParams`).
   * Iterate the result; `return()` (or `break`) unsubscribes. A GraphQL error ends the iteration with GatewayRequestError.
   */
  subscribe<TData, TVariables extends Record<string, unknown>>(document: TypedDocumentNode<TData, TVariables>, variables?: TVariables): AsyncIterableIterator<TData>;
  /** Closes the graphql-ws connection. */
  dispose(): Promise<void>;
}

function httpHeaders(credentials: GatewayCredentials | undefined): Record<string, string> {
  if (credentials && 'apiKey' in credentials) return { 'x-api-key': credentials.apiKey };
  if (credentials && 'bearerToken' in credentials) return { authorization: `Bearer ${credentials.bearerToken}` };
  return {};
}

function connectionParams(credentials: GatewayCredentials | undefined): Record<string, string> {
  if (credentials && 'apiKey' in credentials) return { apiKey: credentials.apiKey };
  if (credentials && 'bearerToken' in credentials) return { authorization: `Bearer ${credentials.bearerToken}` };
  return {};
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  let ws: Client | undefined;
  const wsClient = (): Client => {
    if (ws) return ws;
    const impl = options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket;
    if (!impl) throw new Error('no WebSocket implementation: pass webSocketImpl (e.g. the `ws` package) on Node 20');
    ws = createClient({
      url: `${base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: impl,
      connectionParams: () => connectionParams(options.credentials),
      retryAttempts: options.retryAttempts ?? 5,
      lazy: true,
    });
    return ws;
  };

  const execute: GatewayClient['execute'] = async (document, variables) => {
    const res = await doFetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...httpHeaders(options.credentials) },
      body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
    });
    const text = await res.text();
    let body: ExecutionResult<any>;
    try {
      body = JSON.parse(text) as ExecutionResult<any>;
    } catch {
      throw new GatewayRequestError(res.status, [{ message: `not a GraphQL response (HTTP ${res.status})` }]);
    }
    return { ...body, status: res.status };
  };

  return {
    execute,
    async request(document, variables) {
      const result = await execute(document, variables);
      if (result.errors?.length || result.data == null) throw new GatewayRequestError(result.status, result.errors ?? []);
      return result.data;
    },
    subscribe(document, variables) {
      const iterator = wsClient().iterate<any>({ query: print(document), variables: variables ?? {} });
      const it: AsyncIterableIterator<any> = {
        [Symbol.asyncIterator]: () => it,
        async next() {
          const step = await iterator.next();
          if (step.done) return step;
          if (step.value.errors?.length) {
            await iterator.return?.();
            throw new GatewayRequestError(200, step.value.errors);
          }
          return { done: false, value: step.value.data };
        },
        async return() {
          await iterator.return?.();
          return { done: true, value: undefined };
        },
      };
      return it;
    },
    async dispose() {
      await ws?.dispose();
    },
  };
}
