import { BadUserInputError } from '../../errors.js';
import type { AbiquoProvider } from '../../upstreams/abiquo/provider.js';
import type { Resolvers } from '../generated/types.js';

export const abiquoResolvers: Resolvers = {
  Query: {
    websockifyTokenFile: (_parent, { provider }, ctx) => {
      const upstream = ctx.gateway.upstreamFor(provider, ctx.principal);
      if (!upstream || upstream.kind !== 'abiquo') {
        throw new BadUserInputError(`"${provider}" is not a configured Abiquo provider`, { field: 'provider' });
      }
      return (upstream as AbiquoProvider).tokenFileText();
    },
  },
};
