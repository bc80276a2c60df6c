import type { EventSubscription } from '../../events/bus.js';
import { parseEventPattern } from '../../events/pattern.js';
import type { GatewayEvent } from '../../events/types.js';
import { BadUserInputError } from '../../errors.js';
import { ForbiddenError } from '../../auth/errors.js';
import { allowsProvider, assertProviderAllowed } from '../../auth/principal.js';
import type { Resolvers } from '../generated/types.js';
import type { Principal } from '../../auth/principal.js';
import { providerKindValue } from '../provider-kinds.js';

/** A failure carried as a value, so it reaches the client as a GraphQL error and the stream then completes. */
interface StreamFailure {
  failure: unknown;
}

/**
 * graphql-js lets an error thrown by a source stream escape the operation, and graphql-ws would then
 * close the whole socket (every other subscription on it too). Turn it into one last value instead.
 * A plain object, not an async generator: a generator parked in `await next()` cannot be returned
 * early, which would keep an unsubscribed client on the bus until its next event.
 */
function failuresAsValues(sub: EventSubscription): AsyncIterableIterator<GatewayEvent | StreamFailure> {
  let failed = false;
  const it: AsyncIterableIterator<GatewayEvent | StreamFailure> = {
    [Symbol.asyncIterator]: () => it,
    async next() {
      if (failed) return { done: true, value: undefined };
      try {
        return await sub.next();
      } catch (failure) {
        failed = true;
        return { done: false, value: { failure } };
      }
    },
    return: () => sub.return!(),
  };
  return it;
}

/**
 * The provider filter a subscription actually gets: what was asked for, or, for a restricted
 * caller who asked for nothing, exactly the providers it may use (the bus reads an empty list as
 * "all", so a caller allowed none is refused instead).
 */
function forcedProviders(requested: readonly string[] | null | undefined, principal: Principal): readonly string[] | undefined {
  if (requested && requested.length > 0) return requested;
  if (principal.providers === null) return undefined;
  if (principal.providers.size === 0) throw new ForbiddenError('no provider is allowed for this caller');
  return [...principal.providers];
}

export const eventResolvers: Resolvers = {
  Subscription: {
    events: {
      subscribe: (_parent, { filter }, ctx) => {
        const pattern = filter?.pattern != null ? parseEventPattern(filter.pattern) : undefined;
        // Authorization before existence, so a restricted caller cannot probe provider names.
        for (const p of filter?.providers ?? []) assertProviderAllowed(ctx.principal, p);
        const unknown = (filter?.providers ?? []).filter((p) => !ctx.gateway.upstreams.has(p));
        if (unknown.length > 0) throw new BadUserInputError(`no provider named ${unknown.map((p) => `"${p}"`).join(', ')}`, { field: 'providers' });
        const providers = forcedProviders(filter?.providers, ctx.principal);
        const sub = ctx.gateway.events.subscribe({
          ...(pattern ? { pattern } : {}),
          ...(filter?.sources ? { sources: filter.sources } : {}),
          ...(providers ? { providers } : {}),
        });
        return failuresAsValues(sub) as AsyncIterable<never>;
      },
      resolve: (value: GatewayEvent | StreamFailure) => {
        if ('failure' in value) throw value.failure;
        return value;
      },
    },
  },
  Query: {
    upstreams: (_parent, _args, ctx) =>
      Promise.all(
        [...ctx.gateway.upstreams.values()].filter((u) => allowsProvider(ctx.principal, u.name)).map(async (u) => ({ name: u.name, kind: providerKindValue(u.kind), ...(await u.state()) })),
      ),
  },
};
