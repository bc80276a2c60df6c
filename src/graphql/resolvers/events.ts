import type { EventSubscription } from '../../events/bus.js';
import { parseEventPattern } from '../../events/pattern.js';
import type { GatewayEvent } from '../../events/types.js';
import type { Resolvers } from '../generated/types.js';
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

export const eventResolvers: Resolvers = {
  Subscription: {
    events: {
      subscribe: (_parent, { filter, after }, ctx) => {
        const pattern = filter?.pattern != null ? parseEventPattern(filter.pattern) : undefined;
        const sub = ctx.gateway.subscribeEvents(
          {
            ...(pattern ? { pattern } : {}),
            ...(filter?.sources ? { sources: filter.sources } : {}),
            ...(filter?.providers ? { providers: filter.providers } : {}),
          },
          ctx.principal,
          after != null ? { after } : {},
        );
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
        ctx.gateway.upstreamsFor(ctx.principal).map(async (u) => ({ name: u.name, kind: providerKindValue(u.kind), ...(await u.state()) })),
      ),
  },
};
