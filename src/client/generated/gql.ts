/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query ListVms($provider: String, $filter: VmFilter, $first: Int, $after: String) {\n    vms(provider: $provider, filter: $filter, first: $first, after: $after) {\n      nodes {\n        id\n        name\n        status\n        provider {\n          name\n          kind\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.ListVmsDocument,
    "\n  mutation OpenConsole($vmId: ID!, $mode: ConsoleMode) {\n    openConsole(vmId: $vmId, mode: $mode) {\n      url\n      mode\n      protocols\n      expiresAt\n    }\n  }\n": typeof types.OpenConsoleDocument,
    "\n  subscription Events($filter: EventFilter) {\n    events(filter: $filter) {\n      id\n      source\n      provider\n      time\n      type\n      action\n      key\n      principal\n      object\n    }\n  }\n": typeof types.EventsDocument,
};
const documents: Documents = {
    "\n  query ListVms($provider: String, $filter: VmFilter, $first: Int, $after: String) {\n    vms(provider: $provider, filter: $filter, first: $first, after: $after) {\n      nodes {\n        id\n        name\n        status\n        provider {\n          name\n          kind\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.ListVmsDocument,
    "\n  mutation OpenConsole($vmId: ID!, $mode: ConsoleMode) {\n    openConsole(vmId: $vmId, mode: $mode) {\n      url\n      mode\n      protocols\n      expiresAt\n    }\n  }\n": types.OpenConsoleDocument,
    "\n  subscription Events($filter: EventFilter) {\n    events(filter: $filter) {\n      id\n      source\n      provider\n      time\n      type\n      action\n      key\n      principal\n      object\n    }\n  }\n": types.EventsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ListVms($provider: String, $filter: VmFilter, $first: Int, $after: String) {\n    vms(provider: $provider, filter: $filter, first: $first, after: $after) {\n      nodes {\n        id\n        name\n        status\n        provider {\n          name\n          kind\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query ListVms($provider: String, $filter: VmFilter, $first: Int, $after: String) {\n    vms(provider: $provider, filter: $filter, first: $first, after: $after) {\n      nodes {\n        id\n        name\n        status\n        provider {\n          name\n          kind\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation OpenConsole($vmId: ID!, $mode: ConsoleMode) {\n    openConsole(vmId: $vmId, mode: $mode) {\n      url\n      mode\n      protocols\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  mutation OpenConsole($vmId: ID!, $mode: ConsoleMode) {\n    openConsole(vmId: $vmId, mode: $mode) {\n      url\n      mode\n      protocols\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription Events($filter: EventFilter) {\n    events(filter: $filter) {\n      id\n      source\n      provider\n      time\n      type\n      action\n      key\n      principal\n      object\n    }\n  }\n"): (typeof documents)["\n  subscription Events($filter: EventFilter) {\n    events(filter: $filter) {\n      id\n      source\n      provider\n      time\n      type\n      action\n      key\n      principal\n      object\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;