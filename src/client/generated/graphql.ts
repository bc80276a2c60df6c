/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/**
 * How a browser reaches a VM console. Which modes a provider allows is its `consoleModes` setting;
 * a refused mode answers FORBIDDEN.
 */
export type ConsoleMode =
  /** Straight to the cluster's websockify (CloudTower `raw_token` form). */
  | 'DIRECT'
  /** A URL on this gateway, which proxies to the VM's console. Needs only the gateway to be reachable. */
  | 'GATEWAY'
  /** Forwarded through CloudTower (CloudTower `token` form). */
  | 'UPSTREAM';

/** Which events a subscription receives. All given conditions must hold. */
export type EventFilter = {
  /** DRP-style `type.action.key`; each part `*` or an exact value, at most 501 bytes (UTF-8): what fits in DRP's 512-byte `deregister <filter>` command. Default `*.*.*`. */
  pattern?: string | null | undefined;
  /** Only these provider names (default: all). */
  providers?: Array<string> | null | undefined;
  /** Only these sources (default: all). */
  sources?: Array<EventSource> | null | undefined;
};

/** Where an event came from. */
export type EventSource =
  /** Abiquo VM events. */
  | 'ABIQUO'
  /** Digital Rebar Provision object events (`type` is the DRP object prefix, e.g. `machines`). */
  | 'DRP'
  /** The gateway's own: upstream connected/disconnected, console session opened/closed. */
  | 'GATEWAY';

/** The kinds of upstream the gateway speaks to. */
export type ProviderKind =
  /** Abiquo (REST API; VM consoles through websockify token files; VM events). */
  | 'ABIQUO'
  /** SmartX CloudTower (GraphQL API; VM consoles through websockify). */
  | 'CLOUDTOWER'
  /** Digital Rebar Provision (object events only, no VMs). */
  | 'DRP';

/** Filters every provider understands. All given conditions must hold. */
export type VmFilter = {
  /** Cluster name (CloudTower). */
  cluster?: string | null | undefined;
  /** Exact name. */
  name?: string | null | undefined;
  /** Name contains this text. */
  nameContains?: string | null | undefined;
  /** Name starts with this text. */
  nameStartsWith?: string | null | undefined;
  /** Any of these statuses. */
  status?: Array<VmStatus> | null | undefined;
};

/** A VM state common to every provider; the upstream's own value is in `rawStatus`. */
export type VmStatus =
  /** Deleted upstream. */
  | 'DELETED'
  /** Busy with an upstream operation (Abiquo LOCKED). */
  | 'LOCKED'
  /** Defined but not deployed to a hypervisor (Abiquo). */
  | 'NOT_DEPLOYED'
  /** Powered on. */
  | 'RUNNING'
  /** Powered off. */
  | 'STOPPED'
  /** Paused or suspended, memory kept. */
  | 'SUSPENDED'
  /** A status the gateway does not map; see `rawStatus`. */
  | 'UNKNOWN';

export type ListVmsQueryVariables = Exact<{
  provider?: string | null | undefined;
  filter?: VmFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ListVmsQuery = { vms: { nodes: Array<{ id: string, name: string, status: VmStatus, provider: { name: string, kind: ProviderKind } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type OpenConsoleMutationVariables = Exact<{
  vmId: string | number;
  mode?: ConsoleMode | null | undefined;
}>;


export type OpenConsoleMutation = { openConsole: { url: string, mode: ConsoleMode, protocols: Array<string>, expiresAt: string | null } | null };

export type EventsSubscriptionVariables = Exact<{
  filter?: EventFilter | null | undefined;
}>;


export type EventsSubscription = { events: { id: string, source: EventSource, provider: string, time: string, type: string, action: string, key: string, principal: string | null, object: unknown } };


export const ListVmsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ListVms"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"provider"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"VmFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"vms"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"provider"},"value":{"kind":"Variable","name":{"kind":"Name","value":"provider"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"provider"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<ListVmsQuery, ListVmsQueryVariables>;
export const OpenConsoleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"OpenConsole"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"vmId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"mode"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ConsoleMode"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"openConsole"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"vmId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"vmId"}}},{"kind":"Argument","name":{"kind":"Name","value":"mode"},"value":{"kind":"Variable","name":{"kind":"Name","value":"mode"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"protocols"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}}]} as unknown as DocumentNode<OpenConsoleMutation, OpenConsoleMutationVariables>;
export const EventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"Events"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"EventFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"events"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"time"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"principal"}},{"kind":"Field","name":{"kind":"Name","value":"object"}}]}}]}}]} as unknown as DocumentNode<EventsSubscription, EventsSubscriptionVariables>;