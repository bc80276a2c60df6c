import type { EventSubscription } from '../../events/bus.js';
import { parseEventPattern } from '../../events/pattern.js';
import type { GatewayEvent } from '../../events/types.js';
import { BadUserInputError } from '../../errors.js';
import type { Resolvers } from '../generated/types.js';
import { KIND } from './vms.js';

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
      subscribe: (_parent, { filter }, ctx) => {
        const pattern = filter?.pattern != null ? parseEventPattern(filter.pattern) : undefined;
        const unknown = (filter?.providers ?? []).filter((p) => !ctx.gateway.upstreams.has(p));
        if (unknown.length > 0) throw new BadUserInputError(`no provider named ${unknown.map((p) => `"${p}"`).join(', ')}`, { field: 'providers' });
        const sub = ctx.gateway.events.subscribe({
          ...(pattern ? { pattern } : {}),
          ...(filter?.sources ? { sources: filter.sources } : {}),
          ...(filter?.providers ? { providers: filter.providers } : {}),
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
        [...ctx.gateway.upstreams.values()].map(async (u) => ({ name: u.name, kind: KIND[u.kind], ...(await u.state()) })),
      ),
  },
};
