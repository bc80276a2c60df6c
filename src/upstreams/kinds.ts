/**
 * The upstream kinds this gateway knows, one line each. Everything kind-specific outside the kind's
 * own folder is derived from this list: the config's `providers` union (config.ts), the registry,
 * `ProviderKind`, `EventSource`, and the GraphQL enum values of the running schema.
 */
import { abiquoKind } from './abiquo/descriptor.js';
import { cloudTowerKind } from './cloudtower/descriptor.js';
import type { AnyUpstreamKind } from './descriptor.js';
import { drpKind } from './drp/descriptor.js';

export const upstreamKinds = [
  cloudTowerKind,
  abiquoKind,
  drpKind,
] as const satisfies readonly AnyUpstreamKind[];

type BuiltInKind = (typeof upstreamKinds)[number];

/** Config `kind` of a built-in upstream (`cloudtower`, ...). Extra kinds (tests) are plain strings. */
export type ProviderKind = BuiltInKind['kind'];

/** Built-in kinds that publish events; their upper-cased names are event sources. */
export type EventKind = Extract<BuiltInKind, { provides: { events: true } }>['kind'];

/** How GraphQL shows a kind (`cloudtower` -> `CLOUDTOWER`), in `ProviderKind` and `EventSource`. */
export function graphqlKindName<K extends string>(kind: K): Uppercase<K> {
  return kind.toUpperCase() as Uppercase<K>;
}
